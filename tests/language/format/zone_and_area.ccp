zone   z   "Zone Z"=US  CA
domestic area na = US PR CA , PR pooled with US, CA pooled with CA
