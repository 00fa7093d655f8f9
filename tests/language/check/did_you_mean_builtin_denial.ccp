# with base.ccp
scenario s "S": when outbound deny no_credits_licence unless user has lic then free
