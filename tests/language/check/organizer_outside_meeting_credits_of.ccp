# with base.ccp
scenario o "O": when outbound then credits of organizer
