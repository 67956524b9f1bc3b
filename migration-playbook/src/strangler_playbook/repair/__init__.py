"""Repair: rows that differ although the sync has applied every change (a write that bypassed capture) get the owner's
version, through the sync itself (`repair.py`)."""
