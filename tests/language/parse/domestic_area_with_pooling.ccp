domestic area na "NA" = US PR VI CA, PR VI pooled with US, CA pooled with US
