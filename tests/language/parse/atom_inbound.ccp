scenario s "S": when inbound then free
