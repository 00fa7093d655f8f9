notify balance_zero, recharge_failed to billing_admin, global_admin
