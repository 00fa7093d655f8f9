scenario s "S": when user has no teams_phone then free
