# with base.ccp
domestic area na = US PR, PR pooled with QQ
