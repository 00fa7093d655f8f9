# with base.ccp
credits licence cc
