scenario s "S": when caller not in US then free
