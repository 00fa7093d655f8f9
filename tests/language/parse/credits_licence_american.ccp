credits license cc
