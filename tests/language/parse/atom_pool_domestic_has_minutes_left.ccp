scenario s "S": when pool domestic has minutes left then free
