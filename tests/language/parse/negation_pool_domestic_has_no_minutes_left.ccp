scenario s "S": when pool domestic has no minutes left then free
