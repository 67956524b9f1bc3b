"""Keeping up: apply the captured changes to the target in order and idempotently, the position durable, and
the status of one direction (phase, rows copied, pending changes, lag, last verify). Never calls backfill or verify."""
