scenario s "S": when user has teams_phone then free
