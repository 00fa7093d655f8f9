scenario s "S": when outbound then pool domestic
