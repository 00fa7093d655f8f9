# with base.ccp
scenario s "S": when pool dd has minutes left then free
