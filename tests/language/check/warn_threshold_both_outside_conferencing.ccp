# with base.ccp
conferencing pool zp: 60 minutes per lic licence, warn at 0%, 101%
