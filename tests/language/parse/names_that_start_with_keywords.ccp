role user_zone
role nowhere
role tenant_z
role credits_admin
role organizers
role notable
