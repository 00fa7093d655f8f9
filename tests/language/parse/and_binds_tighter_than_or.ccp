scenario s "S": when inbound or outbound and from meeting then free
