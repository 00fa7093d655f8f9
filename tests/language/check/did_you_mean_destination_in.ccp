# with base.ccp
scenario s "S": when destination in zz then free
