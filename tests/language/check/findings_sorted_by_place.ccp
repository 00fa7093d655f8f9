# with base.ccp
role lonely
notify balance_zero to rr
zone q = US XX
