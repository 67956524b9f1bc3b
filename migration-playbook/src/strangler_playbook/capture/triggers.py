"""Change capture: row triggers on the source tables append the changed keys to a changelog table.

A TRUNCATE (PostgreSQL; SQLite has none) is logged as one entry with op 'T' and no key. The changelog carries
keys, not row images: the sync re-reads the current source row for each key, so
applying a change twice, or out of date, converges to the source's state. On PostgreSQL each entry also
records the writing transaction's id (xid8), because changelog ids are allocated at insert time and commit in
a different order; the sync reads by transaction snapshot, not by id (see feed.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from strangler_playbook.database.connection import Database, quote
from strangler_playbook.database.schema import Table


@dataclass(frozen=True)
class CaptureNames:
    spec: str

    @property
    def changelog(self) -> str:
        return f"_strangler_{self.spec}_changelog"

    def trigger(self, table: str) -> str:
        return f"_strangler_{self.spec}_{table}"[:63]


def install_capture(db: Database, spec_name: str, tables: list[Table]) -> None:
    """Create the changelog and (re)create each table's triggers, in one transaction."""
    names = CaptureNames(spec_name)
    with db.transaction():
        if db.engine == "postgresql":
            _install_pg(db, names, tables)
        else:
            _install_sqlite(db, names, tables)


def uninstall_capture(db: Database, spec_name: str, tables: list[str]) -> None:
    names = CaptureNames(spec_name)
    with db.transaction():
        for table in tables:
            trigger = names.trigger(table)
            if db.engine == "postgresql":
                if db.table_exists(table):
                    db.execute(f"DROP TRIGGER IF EXISTS {quote(trigger)} ON {quote(table)}")
                    db.execute(f"DROP TRIGGER IF EXISTS {quote(trigger + '_t')} ON {quote(table)}")
                db.execute(f"DROP FUNCTION IF EXISTS {quote(trigger)}()")
            else:
                for suffix in ("_i", "_u", "_d"):
                    db.execute(f"DROP TRIGGER IF EXISTS {quote(trigger + suffix)}")
        db.execute(f"DROP TABLE IF EXISTS {quote(names.changelog)}")


def capture_installed(db: Database, spec_name: str, tables: list[str]) -> dict[str, bool]:
    """Table → whether its capture trigger exists (all False when the changelog is missing)."""
    names = CaptureNames(spec_name)
    if not db.table_exists(names.changelog):
        return dict.fromkeys(tables, False)
    result = {}
    for table in tables:
        trigger = names.trigger(table)
        if db.engine == "postgresql":
            count = db.scalar(
                "SELECT count(*) FROM pg_trigger WHERE tgname IN (%s, %s) AND NOT tgisinternal",
                (trigger, trigger + "_t"),
            )
            result[table] = count == 2
        else:
            count = db.scalar(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?, ?)",
                (trigger + "_i", trigger + "_u", trigger + "_d"),
            )
            result[table] = count == 3
    return result


def _key_columns(table: Table) -> list[str]:
    return [quote(c) for c in table.key_sources]


def _install_pg(db: Database, names: CaptureNames, tables: list[Table]) -> None:
    log = quote(names.changelog)
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {log} (id bigserial PRIMARY KEY, tbl text NOT NULL, op char(1) NOT NULL, "
        "pk text NOT NULL, txid xid8 NOT NULL DEFAULT pg_current_xact_id(), "
        "created_at timestamptz NOT NULL DEFAULT clock_timestamp())"
    )
    db.execute(f"CREATE INDEX IF NOT EXISTS {quote(names.changelog + '_txid')} ON {log} (txid)")
    for table in tables:
        keys = _key_columns(table)
        new_keys = ", ".join(f"NEW.{k}" for k in keys)
        old_keys = ", ".join(f"OLD.{k}" for k in keys)
        trigger = quote(names.trigger(table.source))
        name = table.source.replace("'", "''")
        db.execute(
            f"""CREATE OR REPLACE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $capture$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    INSERT INTO {log} (tbl, op, pk) VALUES ('{name}', 'T', '[]');
    RETURN NULL;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO {log} (tbl, op, pk) VALUES ('{name}', left(TG_OP, 1), jsonb_build_array({new_keys})::text);
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND ROW({old_keys}) IS DISTINCT FROM ROW({new_keys})) THEN
    INSERT INTO {log} (tbl, op, pk) VALUES ('{name}', 'D', jsonb_build_array({old_keys})::text);
  END IF;
  RETURN NULL;
END
$capture$"""
        )
        truncate_trigger = quote(names.trigger(table.source) + "_t")
        db.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {quote(table.source)}")
        db.execute(f"DROP TRIGGER IF EXISTS {truncate_trigger} ON {quote(table.source)}")
        db.execute(
            f"CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE ON {quote(table.source)} "
            f"FOR EACH ROW EXECUTE FUNCTION {trigger}()"
        )
        db.execute(
            f"CREATE TRIGGER {truncate_trigger} AFTER TRUNCATE ON {quote(table.source)} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {trigger}()"
        )


def _install_sqlite(db: Database, names: CaptureNames, tables: list[Table]) -> None:
    log = quote(names.changelog)
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {log} (id INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, "
        "op TEXT NOT NULL, pk TEXT NOT NULL, "
        "created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')))"
    )
    for table in tables:
        keys = _key_columns(table)
        new_keys = ", ".join(f"NEW.{k}" for k in keys)
        old_keys = ", ".join(f"OLD.{k}" for k in keys)
        changed = " OR ".join(f"OLD.{k} IS NOT NEW.{k}" for k in keys)
        trigger = names.trigger(table.source)
        source = quote(table.source)
        name = table.source.replace("'", "''")
        for suffix in ("_i", "_u", "_d"):
            db.execute(f"DROP TRIGGER IF EXISTS {quote(trigger + suffix)}")
        db.execute(
            f"CREATE TRIGGER {quote(trigger + '_i')} AFTER INSERT ON {source} BEGIN "
            f"INSERT INTO {log} (tbl, op, pk) VALUES ('{name}', 'I', json_array({new_keys})); END"
        )
        db.execute(
            f"CREATE TRIGGER {quote(trigger + '_u')} AFTER UPDATE ON {source} BEGIN "
            f"INSERT INTO {log} (tbl, op, pk) VALUES ('{name}', 'U', json_array({new_keys})); "
            f"INSERT INTO {log} (tbl, op, pk) SELECT '{name}', 'D', json_array({old_keys}) WHERE {changed}; END"
        )
        db.execute(
            f"CREATE TRIGGER {quote(trigger + '_d')} AFTER DELETE ON {source} BEGIN "
            f"INSERT INTO {log} (tbl, op, pk) VALUES ('{name}', 'D', json_array({old_keys})); END"
        )
