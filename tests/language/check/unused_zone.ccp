# with base.ccp
zone lonely = DE
