"""Gatehouse security package."""
