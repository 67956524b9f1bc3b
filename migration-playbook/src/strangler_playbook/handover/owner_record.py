"""The owner of a spec's data, recorded in the monolith's own database for the monolith to read: its seams answer
from their local tables while the monolith owns the data and call the service from the flip on (docs/seam.md).

    _strangler_data_owner (spec varchar(100) PRIMARY KEY, owner varchar(16), recorded_at varchar(40))

The monolith's migration (`monolith/ownership/migrations/0001_initial.py`) creates the same table; this module
creates it too, so recording works on a monolith database where that migration has not run. Written during the
flip, while the spec's writes are held, so that no request is served on the strength of a record that lags the
data: call it before the journal says the flip happened, so that a run killed in between records it again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from strangler_playbook.database.connection import connect
from strangler_playbook.handover.proxy_seam import Owner

OWNER_TABLE = "_strangler_data_owner"
_CREATE = (
    f'CREATE TABLE IF NOT EXISTS "{OWNER_TABLE}" ('
    '"spec" varchar(100) NOT NULL PRIMARY KEY, "owner" varchar(16) NOT NULL, "recorded_at" varchar(40) NOT NULL)'
)


def record_owner(monolith_url: str, spec_name: str, owner: Owner) -> None:
    """Record in the monolith's database that `owner` owns `spec_name`'s data (an upsert; safe to repeat)."""
    db = connect(monolith_url, role="source", for_writes=True)
    try:
        db.execute(_CREATE)
        with db.transaction():
            db.execute(
                f'INSERT INTO "{OWNER_TABLE}" (spec, owner, recorded_at) VALUES ({db.ph}, {db.ph}, {db.ph}) '
                "ON CONFLICT (spec) DO UPDATE SET owner = excluded.owner, recorded_at = excluded.recorded_at",
                (spec_name, owner, datetime.now(UTC).isoformat()),
            )
    finally:
        db.close()
