"""Schedules (issue 4)."""
