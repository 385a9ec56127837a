"""Every text of the daily digest's e-mail, in one place (English; a translation replaces this table)."""

from __future__ import annotations

from types import MappingProxyType

TEXTS = MappingProxyType({
    "subject": "[Gatehouse {site}] Daily digest {day}: {visitors} visitors, {alarms} alarms, {incidents} "
               "incidents opened",
    "title": "Gatehouse daily digest, site {site}",
    "covers": "{weekday} {day}, {zone} ({hours} hours); made {made}",
    "more": "... and {n} more",
    # visitors
    "visitors": "Visitors",
    "arrivals": "Arrivals",
    "walk_ins": "Walk-ins",
    "invited": "Invited",
    "still_in": "Not checked out yet",
    "median_stay": "Median stay",
    "longest_stay": "Longest stay",
    "invitations": "Invitations for the day",
    "expected": "Expected",
    "came": "Came",
    "cancelled": "Cancelled",
    "no_shows": "No-shows",
    "pending": "Still valid",
    "by_hour": "Arrivals by hour",
    "hour": "Hour",
    "no_arrivals": "No visitor arrived.",
    # alarms
    "alarms": "Alarms",
    "raised": "Raised",
    "priority_raised": "  {priority}",
    "per_10min": "Average per 10 min",
    "worst_10min": "Worst 10 min",
    "worst_at": "{n} from {at}",
    "standing": "Standing (open over 24 h)",
    "shelved": "Shelved at the day's end",
    "shelve_actions": "Shelve actions",
    "chattering": "Chattering sources",
    "ack_title": "Time to acknowledge",
    "priority": "Priority",
    "acknowledged": "Acknowledged",
    "unacknowledged": "Not acknowledged",
    "top_sources": "Top sources",
    "rule": "Rule",
    "source": "Source",
    "share": "Share",
    "chattering_title": "Chattering",
    "most_in_minute": "Most in 1 min",
    "from": "From",
    "standing_title": "Standing alarms",
    "alarm": "Alarm",
    "raised_at": "Raised",
    "open_for": "Open for",
    # incidents
    "opened_title": "Incidents opened",
    "closed_title": "Incidents closed",
    "incident": "Incident",
    "at": "At",
    "by": "By",
    "title_column": "Title",
    "outcome": "Outcome",
    "none_opened": "None.",
    "none_closed": "None.",
    # devices
    "offline_now": "Devices offline now",
    "device": "Device",
    "kind": "Kind",
    "since": "Since",
    "all_online": "None: every device that reported a status is online.",
    "went_down": "Devices that went offline or silent",
    "what": "What",
    "resolved": "Resolved",
    "device-offline": "offline",
    "device-silent": "silent",
    "none_down": "None raised an alarm.",
    "faults": "Device faults",
    "fault": "Fault",
    "times": "Times",
    "first": "First",
    "last": "Last",
    "no_faults": "None reported.",
    # the message around the digest
    "attached": "Attached: {names}.",
    "masked": "Visitors' names and companies are masked in this e-mail (set [digest] personal_data = true "
              "to send them in full).",
    "too_large": "{name} was not attached: {size} bytes is over the limit of {limit}; export it from the "
                 "console.",
})
"""The digest's texts by name; `{...}` are filled in with str.format."""

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
"""The days' names, Monday first (not the process's locale: the digest reads the same everywhere)."""
