scenario s "S": when not inbound and from user then free
