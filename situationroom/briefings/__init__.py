"""Briefings: written reports of the city's situation on schedule and on demand (docs/briefings.md)."""
