scenario s "S": when outbound then pool domestic, spill over to credits of tenant
