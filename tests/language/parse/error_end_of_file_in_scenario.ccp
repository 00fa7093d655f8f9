scenario s "S":
    when inbound
