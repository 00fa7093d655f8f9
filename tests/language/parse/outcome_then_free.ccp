scenario s "S": when outbound then free
