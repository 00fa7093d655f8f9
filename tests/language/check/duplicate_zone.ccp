# with base.ccp
zone z = DE
