credits licence cc
