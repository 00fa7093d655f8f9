# with base.ccp
scenario s "S": when outbound deny nope_
