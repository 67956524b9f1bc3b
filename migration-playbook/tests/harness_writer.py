"""The concurrency harness's writer: random inserts, updates and deletes against the source until SIGTERM.

Inserts, updates, deletes and moves of a unique slug from one row to another. Two threads on two connections
write disjoint keys (a thread touches only the rows it owns: seeded ids with
id % 2 == thread, and rows it inserted), each holding its transaction open for a random few milliseconds so
that changelog ids commit out of order. Every write is logged as JSON *after* its commit returned: the log is
the list of acknowledged writes the test then looks for in the target.

usage: harness_writer.py SOURCE_URL LOG_PATH SEED SEEDED_PRODUCTS CATEGORIES
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import catalog_fixture

stop = threading.Event()
log_lock = threading.Lock()
THREADS = 2


def worker(index: int, url: str, log: Any, seed: int, seeded: int, categories: int) -> None:
    rng = random.Random(seed * 10 + index)
    pg = catalog_fixture.is_pg(url)
    ph = "%s" if pg else "?"
    conn = catalog_fixture.connect(url)
    owned = [i for i in range(1, seeded + 1) if i % THREADS == index]
    version = 0
    while not stop.is_set():
        version += 1
        roll = rng.random()
        try:
            conn.execute("BEGIN" if pg else "BEGIN IMMEDIATE")
            if roll < 0.35 or not owned:
                row = catalog_fixture.product_row(rng, 0, rng.randrange(1, categories + 1), version)
                values = row[1:]
                values = (f"W{index}-{seed}-{version}", *values[1:2], f"w{index}-{version}", *values[3:])
                if not pg:
                    values = catalog_fixture.to_sqlite(values)
                cur = conn.execute(
                    "INSERT INTO catalog_product (sku, name, slug, description, price, currency, active, category_id, "
                    f"created_at, updated_at) VALUES ({', '.join([ph] * 10)}) RETURNING id",
                    values,
                )
                new_id = cur.fetchone()[0]
                entry = {"op": "upsert", "id": new_id, "name": row[2], "price": str(row[5]), "active": row[7]}
                owned.append(new_id)
            elif roll < 0.40 and len(owned) >= 2:
                # A unique value moves from one row to another in one transaction (the sync must not trip on it).
                a, b = rng.sample(owned, 2)
                (slug,) = conn.execute(f"SELECT slug FROM catalog_product WHERE id = {ph}", (a,)).fetchone()
                conn.execute(
                    f"UPDATE catalog_product SET slug = {ph} WHERE id = {ph}", (f"moved-{seed}-{index}-{version}", a)
                )
                conn.execute(f"UPDATE catalog_product SET slug = {ph} WHERE id = {ph}", (slug, b))
                entry = None
            elif roll < 0.85:
                target = rng.choice(owned)
                name = f"upd {version} {rng.random():.6f}"
                price, active = Decimal(rng.randrange(100, 99999)) / 100, rng.random() < 0.5
                cur = conn.execute(
                    f"UPDATE catalog_product SET name = {ph}, price = {ph}, active = {ph} WHERE id = {ph}",
                    (name, price if pg else str(price), active if pg else int(active), target),
                )
                entry = {"op": "upsert", "id": target, "name": name, "price": str(price), "active": active}
                if cur.rowcount == 0:  # deleted by an earlier writer: nothing was written, nothing to expect
                    owned.remove(target)
                    entry = None
            else:
                target = owned.pop(rng.randrange(len(owned)))
                conn.execute(f"DELETE FROM catalog_product WHERE id = {ph}", (target,))
                entry = {"op": "delete", "id": target}
            time.sleep(rng.random() * 0.004)  # keep the transaction open so another commits in between
            conn.execute("COMMIT")
        except Exception as exc:  # a failed write is not acknowledged; say so and keep writing
            with contextlib.suppress(Exception):  # the connection may already have rolled back
                conn.execute("ROLLBACK")
            print(f"writer {index}: {exc}", file=sys.stderr)
            continue
        if entry is not None:
            with log_lock:
                log.write(json.dumps(entry) + "\n")
                log.flush()
        time.sleep(rng.random() * 0.004)
    conn.close()


def main() -> None:
    url, log_path = sys.argv[1], sys.argv[2]
    seed, seeded, categories = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with open(log_path, "w") as log:
        threads = [
            threading.Thread(target=worker, args=(i, url, log, seed, seeded, categories)) for i in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        print("writing", flush=True)
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.1)


if __name__ == "__main__":
    main()
