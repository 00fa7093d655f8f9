scenario s "S": when (inbound or outbound) or from x and (from y and from z)
deny no
