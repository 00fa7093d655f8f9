# with base.ccp
domestic area z = DE
