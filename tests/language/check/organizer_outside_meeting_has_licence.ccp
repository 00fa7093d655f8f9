# with base.ccp
scenario o "O": when organizer has lic then free
