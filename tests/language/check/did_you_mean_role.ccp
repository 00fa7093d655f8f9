# with base.ccp
notify balance_zero to rr
