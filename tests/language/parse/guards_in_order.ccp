scenario s "S":
    when outbound
    deny no_calling_plan unless user has calling plan
    deny number_not_supported if to is premium_rate
    then credits of user
