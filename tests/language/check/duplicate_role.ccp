# with base.ccp
role r
