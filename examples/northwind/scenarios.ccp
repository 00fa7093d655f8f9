# Northwind Mobile: who pays for a call.
#
# Scenarios are tried top to bottom; the first whose "when" holds decides the call.

# ---- Every line, every context ----------------------------------------------------

scenario emergency "Emergency calls (999, 112) are always connected and free":
    when to is emergency
    then free

scenario incoming "Incoming calls are free, at home and abroad":
    when inbound
    then free

scenario no_conference_bridge "Meetings cannot dial out: Northwind has no conference bridge":
    when from meeting
    deny not_offered

scenario business_lines "Auto attendants and call queues forward calls at the account's expense":
    when from auto_attendant or from call_queue
    then credits of tenant

scenario premium_barred "Premium-rate numbers are barred":
    when to is premium_rate
    deny premium_barred

scenario freephone "Freephone numbers at home (0800, 0808) are free from mobiles":
    when to is toll_free and destination is domestic
    then free

# ---- Lines calling out ----------------------------------------------------------------

scenario no_plan "A line without a plan cannot make calls":
    when from user and user has no calling plan
    deny no_plan

scenario roaming_outside_europe "Outside Europe every call is paid from the balance, with World Roaming only":
    when from user and caller not in europe
    deny roaming_barred unless user has world_roaming
    then credits of user

scenario pay_as_you_go "Pay As You Go lines pay every call from the balance":
    when from user and user's plan is northwind_pay_as_you_go
    then credits of user

scenario domestic "Domestic calls use the line's own monthly minutes, then the balance":
    when from user and destination is domestic
    then pool domestic, spill over to credits of user

scenario roam_like_at_home "Lines based elsewhere in Europe call the UK on their domestic minutes":
    when from user and caller not in uk and destination in uk
    then pool domestic, spill over to credits of user

scenario international_allowance "Unlimited includes 100 international minutes a month, then the balance":
    when from user and destination is international and user's plan is northwind_unlimited
    deny international_barred if user has international_bar
    then pool international, spill over to credits of user

scenario international "Other international calls are paid from the balance":
    when from user and destination is international
    deny international_barred if user has international_bar
    then credits of user
