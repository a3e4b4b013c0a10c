"""Incidents: situation levels declared for a hazard and area, and the timeline each one keeps (docs/incidents.md)."""
