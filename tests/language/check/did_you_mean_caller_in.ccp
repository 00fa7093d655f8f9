# with base.ccp
scenario s "S": when caller in zz then free
