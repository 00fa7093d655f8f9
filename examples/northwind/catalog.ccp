# Northwind Mobile: the catalogue.
#
# A Northwind account (a family or a small business) is a tenant; each line on it is
# a user. The account's prepaid top-up balance is the credits balance. Who pays for
# which call is decided in scenarios.ccp.

# ---- Places ----------------------------------------------------------------------

# The UK and the Crown Dependencies share +44 and are domestic to one another.
domestic area uk "United Kingdom, Guernsey, Jersey and the Isle of Man" = GB GG JE IM

# Where Northwind lines roam like at home: the UK, the EU/EEA and Switzerland.
zone europe "Roam-like-at-home Europe" =
    GB GG JE IM AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS
    LI NO CH

# ---- Licences (options a line may have) --------------------------------------------

licence world_roaming "World Roaming add-on"
licence international_bar "International calls barred"

# The option a line needs to pay from the account's prepaid balance.
credits licence northwind_credits "Northwind prepaid top-up"

# ---- Plans (a line's plan is the FIRST below that it holds) ------------------------
# Minutes are per line per calendar month and never shared ("not pooled").

plan northwind_unlimited "Northwind Unlimited" {
    pool domestic:      3000 minutes per user in uk, 1000 elsewhere, not pooled, warn at 80%, 100%
    pool international: 100 minutes per user, not pooled
}

plan northwind_essentials "Northwind Essentials" {
    pool domestic: 500 minutes per user, not pooled, warn at 80%, 100%
}

# Pay As You Go includes no minutes: every call is paid from the balance.
plan northwind_pay_as_you_go "Northwind Pay As You Go" { }

# ---- Refusals ---------------------------------------------------------------------

denial premium_barred "Premium-rate numbers are barred on Northwind lines."
denial no_plan "This line has no Northwind plan, so it cannot make calls."
denial not_offered "Northwind lines have no conference bridge, so meetings cannot dial out."
denial roaming_barred "Calls from outside Europe need the World Roaming add-on."
denial international_barred "International calls are barred on this line."
# A built-in denial, re-declared to change its sentence.
denial balance_exhausted "Your Northwind balance is used up: top up to keep calling."

# ---- Who is told --------------------------------------------------------------------

role account_holder "Account holder"
role bill_payer "Bill payer"

notify recharge_succeeded, recharge_failed, balance_zero to account_holder, bill_payer

notify pool_threshold to account_holder
