"""Strangler's routing proxy."""
