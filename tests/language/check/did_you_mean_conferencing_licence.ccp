# with base.ccp
conferencing pool zp: 60 minutes per lics licence
