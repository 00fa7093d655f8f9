scenario a "A": when inbound then free scenario b "B": when inbound then conferencing
scenario c "C": when inbound then plan scenario d "D": when inbound then credits of tenant
scenario e "E": when caller in US CA and destination not in zone_a then pool x
