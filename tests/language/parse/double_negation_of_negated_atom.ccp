scenario s "S": when not to is not toll_free then free
