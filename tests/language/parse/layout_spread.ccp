# head
zone z =
  US   # first
  CA

scenario s "S" :
 when
 inbound
 then free # tail
