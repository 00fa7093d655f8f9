zone z = US @
