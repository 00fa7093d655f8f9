# with base.ccp
scenario s "S": when destination is domestik then free
