# Communications Credits, Microsoft Teams style: who pays for a PSTN call.
#
# Scenarios are tried top to bottom; the first whose "when" holds decides the call.
# A "deny CODE unless ..." line refuses the call when its condition does not hold.
# "spill over to credits" pays the minutes beyond a used-up pool from the balance.

# ---- Always allowed, and never allowed --------------------------------------------------

scenario emergency "Emergency calls are always connected and free":
    when outbound and to is emergency
    then free

scenario other_short_code "Short codes other than emergency numbers cannot be dialled":
    when outbound and to is short_code
    deny number_not_supported

scenario international_freephone "International freephone (UIFN) numbers are not supported":
    when to is toll_free and destination is non_geographic
    deny number_not_supported

scenario premium_rate_blocked "Premium-rate numbers cannot be dialled in some countries":
    when outbound and to is premium_rate and destination in premium_rate_unsupported
    deny number_not_supported

scenario foreign_toll_free "Toll-free numbers are reachable only from their own country":
    when to is toll_free and not caller shares calling code
    deny toll_free_foreign_origin

# ---- Calls coming in ---------------------------------------------------------------------

scenario toll_free_service "Toll-free numbers of meetings, auto attendants and call queues are paid per minute from credits":
    when inbound and to is toll_free
    then credits of tenant

scenario inbound_call "Incoming calls are free":
    when inbound
    then free

# ---- Voice apps --------------------------------------------------------------------------

scenario voice_app_transfer "Auto attendants and call queues transferring to a phone number pay from credits":
    when outbound and (from auto_attendant or from call_queue)
    then credits of tenant

# ---- Meeting dial-out (charged to the meeting organizer) -----------------------------------

scenario conferencing_licence_required "A meeting can dial out only if its organizer has Audio Conferencing":
    when outbound and from meeting and organizer has no audio_conferencing
    deny no_conferencing_license

scenario conference_premium "Meeting dial-out to premium-rate or shared-cost numbers is paid from credits":
    when outbound and from meeting and (to is premium_rate or to is shared_cost)
    then credits of organizer

scenario conference_us_ca_add_on "Meeting dial-out to the US and Canada is included in the dial-out add-on":
    when outbound and from meeting and organizer has audio_conferencing_us_ca_dial_out
         and destination in us_and_canada
    then conferencing

scenario conference_zone_a "Meeting dial-out to Zone A uses the tenant's dial-out minutes, then credits":
    when outbound and from meeting and destination in zone_a
    then pool zone_a, spill over to credits of organizer

scenario conference_elsewhere "Meeting dial-out outside Zone A is paid from credits":
    when outbound and from meeting
    then credits of organizer

# ---- Users calling out ----------------------------------------------------------------------

scenario no_calling_plan "Users without a Calling Plan cannot call phone numbers":
    when outbound and from user and user has no calling plan
    deny no_calling_plan

scenario premium_rate "Premium-rate and shared-cost numbers are paid by the caller from credits":
    when outbound and from user and (to is premium_rate or to is shared_cost)
    then credits of user

scenario pay_as_you_go "Every outbound call on a Pay-As-You-Go plan is paid from credits":
    when outbound and from user and user's plan is pay_as_you_go_calling_plan
    then credits of user

scenario domestic_call "Domestic calls use the plan's domestic minutes, then credits":
    when outbound and from user and destination is domestic
    then pool domestic, spill over to credits of user

scenario international_on_international_plan "International calls use the plan's international minutes, then credits":
    when outbound and from user and destination is international
         and user's plan is domestic_international_calling_plan
    then pool international, spill over to credits of user

scenario international_on_domestic_plan "International calls on a Domestic Calling Plan are paid from credits":
    when outbound and from user and destination is international
    then credits of user
