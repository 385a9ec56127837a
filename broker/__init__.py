"""Gatehouse broker package."""
