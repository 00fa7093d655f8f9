scenario s "S": when destination is international then free
