# with base.ccp
denial never "Never said."
