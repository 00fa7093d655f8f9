# with base.ccp
scenario s "S": when user's plan is pp then free
