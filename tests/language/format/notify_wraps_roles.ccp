notify a, b to role_number_0, role_number_1, role_number_2, role_number_3, role_number_4, role_number_5, role_number_6, role_number_7
notify balance_zero to x,y
