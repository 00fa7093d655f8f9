# with base.ccp
scenario o "O": when organizer's plan is p then free
