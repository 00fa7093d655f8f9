role Billing
