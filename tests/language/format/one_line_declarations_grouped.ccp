licence a   license b
credits license c "C"



role r
role s
denial d "No."
