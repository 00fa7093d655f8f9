# with base.ccp
conferencing pool d: 60 minutes per lic licence
