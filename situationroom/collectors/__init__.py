"""Collectors: scheduled (or live) pullers of data sources that write samples to the streams."""
