denial nope "Say \"no\" with a \\ backslash."
