"""The back office: access decisions, alarms, incidents, invitations, notices, audit and retention."""
