scenario s "S": when balance is not positive then free
