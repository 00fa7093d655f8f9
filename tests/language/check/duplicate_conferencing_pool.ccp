# with base.ccp
conferencing pool zp: 60 minutes per lic licence
conferencing pool zp: 30 minutes per lic licence
