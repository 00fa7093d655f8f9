# with base.ccp
scenario s "S": when destination not in ZZ then free
