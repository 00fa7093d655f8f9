# with base.ccp
scenario s "S": when from meetng then free
