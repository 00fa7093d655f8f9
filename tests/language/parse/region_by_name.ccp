scenario s "S": when destination in zone_a then free
