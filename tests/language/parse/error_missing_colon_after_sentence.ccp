role r
scenario s "A sentence"
    when inbound
    then free
