"""Proof: counts and checksums computed inside each database per key range, narrowed to the exact keys that
differ, the result recorded for status and the proxy's gate. Never calls backfill or sync."""
