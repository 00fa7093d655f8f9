scenario s "S": when user's plan is not p then free
