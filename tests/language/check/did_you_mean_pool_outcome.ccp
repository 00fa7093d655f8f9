# with base.ccp
scenario s "S": when outbound then pool dd
