scenario s "S": when outbound deny number_not_supported
