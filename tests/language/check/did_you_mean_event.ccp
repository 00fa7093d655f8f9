# with base.ccp
notify balance_zeroo to r
