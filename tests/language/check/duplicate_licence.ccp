# with base.ccp
licence lic
