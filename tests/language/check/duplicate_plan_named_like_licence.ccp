# with base.ccp
plan lic { }
