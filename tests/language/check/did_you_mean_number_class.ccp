# with base.ccp
scenario s "S": when to is tollfree then free
