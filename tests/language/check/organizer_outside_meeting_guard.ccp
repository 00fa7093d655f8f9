# with base.ccp
scenario o "O": when outbound deny nope unless organizer has lic then free
