scenario s "S": when inbound or outbound or from user then free
