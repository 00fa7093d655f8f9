# with base.ccp
scenario s "S": when from xyzzy then free
