zone z "Zed" = US CA
