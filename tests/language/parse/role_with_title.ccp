role billing_admin "Billing Administrator"
