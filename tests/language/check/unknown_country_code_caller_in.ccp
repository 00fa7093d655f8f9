# with base.ccp
scenario s "S": when caller in US QQ then free
