"""The back office inside the central service: access decisions, alarm rules and the alarm book, wired."""
