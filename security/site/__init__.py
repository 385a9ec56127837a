"""The central service of a site composed in one object: ingest, back office, notifier, API, retention."""
