scenario s "S": when credits are not set up then free
