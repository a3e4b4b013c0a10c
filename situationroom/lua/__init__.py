"""Lua scripts the aggregator runs inside Redis."""
