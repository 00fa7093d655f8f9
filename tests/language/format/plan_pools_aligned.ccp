plan p "P" { pool domestic : 10 minutes per user in na , 5 minutes per user elsewhere, not pooled, warn at 50%,90%
 pool intl: 3 minutes per user}
plan e{}
