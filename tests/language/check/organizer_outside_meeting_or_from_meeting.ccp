# with base.ccp
scenario o "O": when from meeting or organizer has lic then free
