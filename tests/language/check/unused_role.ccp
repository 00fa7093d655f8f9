# with base.ccp
role lonely
