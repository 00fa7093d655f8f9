"""The engine's fixed vocabulary: the words a policy may use but not define.

These are facts about calls and about the credits mechanism, not about any one
provider; everything provider-specific (zones, plans, minutes, roles) is declared
in the rules.
"""

from __future__ import annotations

__all__ = [
    "BUILTIN_DENIALS",
    "CAPABILITY_TARGETS",
    "CONTEXTS",
    "DESTINATION_KINDS",
    "DIRECTIONS",
    "EVENTS",
    "NUMBER_CLASSES",
    "NUMBER_TYPES",
    "PAYERS",
]

DIRECTIONS = ("outbound", "inbound")
CONTEXTS = ("user", "meeting", "auto_attendant", "call_queue")

# libphonenumber's number types, in snake_case.
NUMBER_TYPES = (
    "fixed_line",
    "mobile",
    "fixed_line_or_mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "unknown",
)
# What ``to is X`` may test: a number type, or a short-code class.
NUMBER_CLASSES = (*NUMBER_TYPES, "emergency", "short_code", "service_number")

DESTINATION_KINDS = ("domestic", "international", "non_geographic")

PAYERS = ("user", "organizer", "tenant")

#: What a ``capability "CODE" for …`` statement may name besides plans and conferencing
#: pools: calls paid from credits; ``then conferencing`` (not pooled); free outbound
#: calls (emergency); free meeting dial-ins; other free inbound calls (voice apps, users
#: without a declared plan).
CAPABILITY_TARGETS = (
    "credits",
    "conferencing",
    "free_outbound",
    "meeting_dial_in",
    "other_inbound",
)

EVENTS = ("recharge_succeeded", "recharge_failed", "balance_zero", "pool_threshold")
CREDIT_EVENTS = ("recharge_succeeded", "recharge_failed", "balance_zero")

# Refusals the engine itself decides (in this order of precedence, after the rules'
# own refusals). A policy may re-declare one to change its sentence. ``{credits}`` is the
# title of the policy's credits licence (``Communications Credits`` in the bundled rules),
# ``{are}`` the verb that agrees with it.
BUILTIN_DENIALS = {
    "unknown_user": "The calling user is not a user of this tenant.",
    "pool_exhausted": (
        "The plan's minutes for this month are used up and the call cannot be paid from credits."
    ),
    "no_credits_license": (
        "The user has no {credits} licence, so the call cannot be paid from credits."
    ),
    "credits_not_set_up": "{credits} {are} not set up for this organisation.",
    "balance_exhausted": "The {credits} balance is used up.",
    "no_rate": "No rate in the rate card prices this call, so it cannot be paid from credits.",
    "no_scenario": "No scenario of the policy decides this call.",
}
