# Communications Credits, Microsoft Teams style: the catalogue.
#
# Places, licences, Calling Plans with their minute pools, admin roles, refusal
# sentences and who is told about the credits balance. Who pays for which call is
# decided in scenarios.ccp. Sources: Microsoft's public Teams documentation (end of file).

# ---- Places --------------------------------------------------------------------

# Audio Conferencing dial-out Zone A: 44 countries and regions.
zone zone_a "Audio Conferencing Zone A" =
    AU AT BE BR BG CA CN HR CZ DK EE FI FR DE GR HK HU IN IE IT JP LU MY MX NL NZ NO PL PT PR RO RU
    SG SK SI ZA KR ES SE CH TW TH GB US

# US, Puerto Rico and Canada are domestic to one another. Users in Puerto Rico share
# the US pools; Canada has pools of its own.
domestic area north_america "United States, Puerto Rico and Canada" = US PR CA,
    PR pooled with US

# Meeting dial-out covered by the US/Canada dial-out add-on.
zone us_and_canada "United States and Canada" = US CA

# Premium-rate numbers cannot be dialled in these countries.
zone premium_rate_unsupported "Premium-rate numbers not supported" = US CA DE

# ---- Licences (a user's licences are listed in the tenant file) -------------------

licence teams_phone "Teams Phone"
licence audio_conferencing "Audio Conferencing"
licence audio_conferencing_us_ca_dial_out "Audio Conferencing dial-out to US/Canada add-on"

# The licence a user needs to draw on the prepaid balance (unlimited quantity, free).
credits licence communications_credits "Communications Credits"

# ---- Calling Plans ------------------------------------------------------------------
# A user's calling plan is the FIRST plan below that they hold; their calls count
# towards that plan's pools only. Minutes are per user per calendar month, pooled per
# tenant, per country (usage location) and per plan.

plan domestic_international_calling_plan "Domestic and International Calling Plan" {
    pool domestic:      3000 minutes per user in north_america, 1200 elsewhere
    pool international: 600 minutes per user
}

plan domestic_calling_plan "Domestic Calling Plan" {
    pool domestic: 3000 minutes per user in north_america, 1200 elsewhere
}

plan domestic_calling_plan_240 "Domestic Calling Plan (240 minutes)" {
    pool domestic: 240 minutes per user
}

plan domestic_calling_plan_120 "Domestic Calling Plan (120 minutes)" {
    pool domestic: 120 minutes per user
}

# Pay-As-You-Go includes no minutes: every outbound minute is paid from credits.
plan pay_as_you_go_calling_plan "Pay-As-You-Go Calling Plan" { }

# Dial-out minutes included with Audio Conferencing, pooled for the whole tenant.
conferencing pool zone_a "Audio Conferencing dial-out minutes (Zone A)":
    60 minutes per audio_conferencing licence, tenant-wide, warn at 80%, 100%

# ---- Refusals ------------------------------------------------------------------------

denial number_not_supported "This number cannot be called from Teams."
denial toll_free_foreign_origin "Toll-free numbers answer only callers from their own country calling code."
denial no_conferencing_license "The meeting organizer has no Audio Conferencing licence, so the meeting cannot dial out."
denial no_calling_plan "The user has no Calling Plan, so they cannot call phone numbers."

# ---- Admin roles ----------------------------------------------------------------------

role billing_admin "Billing Administrator"
role company_admin "Company Administrator"
role global_admin "Global Administrator"
role user_account_admin "User Account Administrator"
role user_admin "User Administrator"
role helpdesk_admin "Helpdesk Administrator"
role service_support_admin "Service Support Administrator"
role device_admin "Device Administrator"
role cloud_device_admin "Cloud Device Administrator"
role azure_ad_joined_device_local_admin "Azure AD Joined Device Local Administrator"
role application_admin "Application Administrator"
role license_admin "License Administrator"
role authentication_admin "Authentication Administrator"
role privileged_authentication_admin "Privileged Authentication Administrator"
role lync_service_admin "Lync Service Administrator"
role skype_for_business_admin "Skype for Business Administrator"
role teams_admin "Teams Administrator"
role teams_communications_admin "Teams Communications Administrator"
role teams_communications_support_engineer "Teams Communications Support Engineer"
role teams_communications_support_specialist "Teams Communications Support Specialist"

# ---- Who is told ------------------------------------------------------------------------
# E-mail about the credits balance goes to every holder of these roles.

notify recharge_succeeded, recharge_failed, balance_zero, pool_threshold
    to billing_admin, company_admin, global_admin, user_account_admin, user_admin, helpdesk_admin,
       service_support_admin, device_admin, cloud_device_admin, azure_ad_joined_device_local_admin,
       application_admin, license_admin, authentication_admin, privileged_authentication_admin,
       lync_service_admin, skype_for_business_admin, teams_admin, teams_communications_admin,
       teams_communications_support_engineer, teams_communications_support_specialist

# ---- Sources ----------------------------------------------------------------------------
# Microsoft's public documentation of Communications Credits, Calling Plans and Audio
# Conferencing, on which this catalogue is modelled:
#   https://learn.microsoft.com/microsoftteams/what-are-communications-credits
#   https://learn.microsoft.com/microsoftteams/set-up-communications-credits-for-your-organization
#   https://learn.microsoft.com/microsoftteams/calling-plans-for-office-365
#   https://learn.microsoft.com/microsoftteams/audio-conferencing-zones
# The fine points this policy settles are the reference rules of docs/reference.md.
