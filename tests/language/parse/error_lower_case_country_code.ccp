zone z = US ca
