# with base.ccp
domestic area na = US PR, PR pooled with CA
scenario n "N": when destination in na then free
