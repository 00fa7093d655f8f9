scenario s "S": when inbound
role r
