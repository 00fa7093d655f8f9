# with base.ccp
scenario o "O": when organizer has no calling plan then free
