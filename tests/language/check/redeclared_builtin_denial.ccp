# with base.ccp
denial balance_exhausted "No money left."
