"""The managers' console's queries: one module per page (visits, alarms, incidents, audit), keyset-paged."""
