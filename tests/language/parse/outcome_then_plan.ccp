scenario s "S": when outbound then plan
