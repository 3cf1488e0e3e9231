"""Byte-bounded caches and the budget they share."""
