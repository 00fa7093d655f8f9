scenario s "S": when credits are set up then free
