scenario s "S": when user has no calling plan then free
