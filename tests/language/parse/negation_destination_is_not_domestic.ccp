scenario s "S": when destination is not domestic then free
