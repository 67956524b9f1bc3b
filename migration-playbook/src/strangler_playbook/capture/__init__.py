"""What changed on the source: row triggers that log changed keys to a changelog, and the feed that reads it
from a durable position without skipping late commits. Installed by backfill and handover, read by sync."""
