# with base.ccp
scenario s "S": when destination is z then free
