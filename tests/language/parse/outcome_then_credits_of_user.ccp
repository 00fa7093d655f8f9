scenario s "S": when outbound then credits of user
