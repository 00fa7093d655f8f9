# with base.ccp
plan p { }
