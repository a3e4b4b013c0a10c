"""Notifications: people and subscriptions, routing, channels and the notify role that delivers (docs/alerts.md)."""
