"""Strangler data migration engine."""
