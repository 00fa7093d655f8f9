scenario s "S": when from call_queue then free
