"""Moving the system of record with the proxy: cutover, rollback and retire as journaled, re-runnable runs over
backfill, sync and verify, the follower that syncs whichever way the data flows, and the proxy seam they use."""
