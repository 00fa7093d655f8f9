scenario s "S": when to is premium_rate then free
