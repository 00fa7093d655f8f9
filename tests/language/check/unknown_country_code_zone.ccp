# with base.ccp
zone q = US XX
