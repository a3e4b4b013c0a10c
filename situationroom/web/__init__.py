"""The web role: HTTP API (and, later, the wall display and its websocket)."""
