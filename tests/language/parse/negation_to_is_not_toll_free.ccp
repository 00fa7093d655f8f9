scenario s "S": when to is not toll_free then free
