scenario s "S": when outbound then conferencing
