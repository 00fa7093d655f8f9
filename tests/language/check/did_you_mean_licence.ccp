# with base.ccp
scenario s "S": when user has lics then free
