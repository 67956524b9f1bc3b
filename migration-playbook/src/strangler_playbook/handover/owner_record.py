"""The owner of a spec's data, recorded in the monolith's own database for the monolith to read: its seams answer
from their local tables while the monolith owns the data and call the service from the commit on (docs/seam.md),
and its catalog services refuse writes while the service owns it.

    _strangler_data_owner (spec varchar(100) PRIMARY KEY, owner varchar(16), recorded_at varchar(40))

The monolith's migration (`monolith/ownership/migrations/0001_initial.py`) creates the same table; this module
creates it too, so recording works on a monolith database where that migration has not run. The record may say
the service only while the proxy sends the service the writes, and must say the monolith whenever the proxy may
send them to the monolith: a cutover records the service right after its commit point, a rollback records the
monolith right before its own, an abort records the old owner again, and a re-run records the proxy's owner
(`move.py`). Every write is held meanwhile, so both sides hold the same data whichever way a read goes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from strangler_playbook.database.connection import Database, connect
from strangler_playbook.handover.proxy_seam import Owner

OWNER_TABLE = "_strangler_data_owner"
_CREATE = (
    f'CREATE TABLE IF NOT EXISTS "{OWNER_TABLE}" ('
    '"spec" varchar(100) NOT NULL PRIMARY KEY, "owner" varchar(16) NOT NULL, "recorded_at" varchar(40) NOT NULL)'
)


def record_owner(monolith_url: str, spec_name: str, owner: Owner, *, db: Database | None = None) -> None:
    """Record in the monolith's database that `owner` owns `spec_name`'s data (an upsert; safe to repeat). `db`: a
    connection to that database already open (a handover's, under its hold), left open."""
    if db is not None:
        _record(db, spec_name, owner)
        return
    db = connect(monolith_url, role="source", for_writes=True)
    try:
        _record(db, spec_name, owner)
    finally:
        db.close()


def _record(db: Database, spec_name: str, owner: Owner) -> None:
    db.execute(_CREATE)
    with db.transaction():
        db.execute(
            f'INSERT INTO "{OWNER_TABLE}" (spec, owner, recorded_at) VALUES ({db.ph}, {db.ph}, {db.ph}) '
            "ON CONFLICT (spec) DO UPDATE SET owner = excluded.owner, recorded_at = excluded.recorded_at",
            (spec_name, owner, datetime.now(UTC).isoformat()),
        )
