# with base.ccp
domestic area na = US PR
domestic area nb = PR CA
