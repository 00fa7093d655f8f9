scenario s "S": when caller shares calling code then free
