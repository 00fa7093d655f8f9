# with base.ccp
scenario o "O": when from meeting and organizer has lic
    deny nope unless organizer has calling plan
    then credits of organizer
