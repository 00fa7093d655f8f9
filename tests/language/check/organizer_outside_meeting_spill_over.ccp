# with base.ccp
scenario o "O": when destination in z then pool d, spill over to credits of organizer
