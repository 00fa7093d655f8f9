scenario s "S": when inbound and outbound and from user and from meeting then free
