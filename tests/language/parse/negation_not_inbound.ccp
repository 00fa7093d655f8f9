scenario s "S": when not inbound then free
