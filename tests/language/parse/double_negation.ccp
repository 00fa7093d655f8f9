scenario s "S": when not not inbound then free
