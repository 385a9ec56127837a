"""Gatehouse: the command line and the wiring of a whole site (the composition root)."""
