"""Strangler's data migration engine: gives an extracted service its own database without downtime or lost rows.
Layers, top down (.importlinter): cli, settings, handover, backfill | sync | verify, capture, database, spec, errors."""
