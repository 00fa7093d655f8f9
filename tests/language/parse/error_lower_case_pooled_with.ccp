domestic area a = US CA, CA pooled with us
