"""Ingest: events from the bus, checked, stored in batches, watermarks kept, handed to the back office."""
