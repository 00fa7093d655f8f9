# with base.ccp
domestic area na = US PR, CA pooled with US
