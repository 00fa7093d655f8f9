scenario s "S": when balance is positive then free
