credits licence cc
licence lic
role r
notify balance_zero to r
zone z = US CA
zone y = DE
denial nope "Not this one."
plan p { pool d: 100 minutes per user in z, 5 minutes per user in y, 10 elsewhere }
scenario a "A": when destination in z then pool d, spill over to credits of user
scenario b "B": when outbound and to is premium_rate deny nope
scenario c "C": when outbound then credits of user
scenario i "I": when inbound then free
