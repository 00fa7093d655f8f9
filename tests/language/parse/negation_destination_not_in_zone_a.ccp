scenario s "S": when destination not in zone_a then free
