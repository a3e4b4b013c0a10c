"""Alerting: rules, evaluation, alert state, silences and the CAP feed (docs/alerts.md)."""
