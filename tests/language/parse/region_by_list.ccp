scenario s "S": when caller in US CA PR then free
