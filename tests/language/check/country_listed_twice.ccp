# with base.ccp
zone t = DE FR DE
scenario s "S": when destination in t then free
