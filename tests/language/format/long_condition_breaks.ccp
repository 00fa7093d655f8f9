scenario s "S": when to is not emergency and (to is not premium_rate or balance is positive and (credits are set up and caller shares calling code)) then free
