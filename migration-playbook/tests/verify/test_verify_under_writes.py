"""Verify under steady writes converges: a difference that is only a change the sync has not applied yet is
re-checked once the sync's position has passed it, instead of failing; and a difference always names its keys."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from strangler_playbook.backfill.backfill import run_backfill
from strangler_playbook.database.context import open_context
from strangler_playbook.spec.spec import load_spec
from strangler_playbook.verify.verify import run_verify

import catalog_fixture

WRITES_PER_SECOND = 50
PRODUCTS = 200
ENGINE = (sys.executable, "-m", "strangler_playbook")


class SteadyWriter:
    """Updates random products of the source at a steady rate, each write its own transaction, until stopped."""

    def __init__(self, url: str, rate: float) -> None:
        self.url, self.rate = url, rate
        self.stop = threading.Event()
        self.writes = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        rng = random.Random(7)
        conn = catalog_fixture.connect(self.url)
        ph = "%s" if catalog_fixture.is_pg(self.url) else "?"
        next_at = time.monotonic()
        try:
            while not self.stop.is_set():
                product = rng.randrange(1, PRODUCTS + 1)
                conn.execute(
                    f"UPDATE catalog_product SET name = {ph} WHERE id = {ph}", (f"steady {self.writes}", product)
                )
                if not catalog_fixture.is_pg(self.url):
                    conn.commit()
                self.writes += 1
                next_at += 1 / self.rate
                time.sleep(max(0.0, next_at - time.monotonic()))
        finally:
            conn.close()


@pytest.fixture
def synced_under_writes(make_db, spec_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """A backfilled pair, a `sync --follow` process, and a writer at WRITES_PER_SECOND on the source."""
    engine = request.param
    source, target = make_db(engine), make_db(engine)
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=PRODUCTS)
    with open_context(load_spec(spec_path), source, target) as ctx:
        run_backfill(ctx)
    follower = subprocess.Popen(
        # The follower polls every 0.25 s: at 50 writes a second a verify always meets changes it has not applied yet
        # (a faster follower on an idle machine can leave a verify nothing to wait for, and the test proves nothing).
        [*ENGINE, "sync", str(spec_path), "--source", source, "--target", target, "--follow", "--poll", "0.25"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    writer = SteadyWriter(source, WRITES_PER_SECOND)
    writer.thread.start()
    try:
        deadline = time.monotonic() + 30
        while writer.writes < WRITES_PER_SECOND // 2:  # writes and the sync are under way
            assert time.monotonic() < deadline, "the writer did not get going"
            time.sleep(0.02)
        yield source, target
    finally:
        writer.stop.set()
        writer.thread.join(10)
        follower.terminate()
        follower.wait(30)
    assert writer.writes > 0


@pytest.mark.parametrize("synced_under_writes", ["sqlite", "pg"], indirect=True)
def test_verify_under_fifty_writes_a_second_is_clean_every_time(
    synced_under_writes: tuple[str, str], spec_path: Path
) -> None:
    source, target = synced_under_writes
    outcomes = []
    for _ in range(3):
        verified = subprocess.run(
            [*ENGINE, "verify", str(spec_path), "--source", source, "--target", target, "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        outcomes.append((verified.returncode, json.loads(verified.stdout)))
    assert [code for code, _ in outcomes] == [0] * 3, outcomes
    assert any(t["rechecks"] for _, report in outcomes for t in report["tables"])  # it did have to wait for the sync


@pytest.mark.parametrize("synced_under_writes", ["sqlite"], indirect=True)
def test_a_difference_found_under_writes_always_names_its_keys(
    synced_under_writes: tuple[str, str], spec_path: Path
) -> None:
    source, target = synced_under_writes
    spec = load_spec(spec_path)
    unclean = 0
    with open_context(spec, source, target) as ctx:
        for _ in range(30):
            report = run_verify(ctx, record=False, range_rows=50)
            for table in report.tables:
                if not table.clean:
                    unclean += 1
                    assert table.missing or table.extra or table.different, table.as_dict()
    assert unclean > 0  # the writes did make first passes differ


def test_drift_the_sync_never_saw_still_fails_verify_after_settling(make_sqlite, spec_path: Path) -> None:
    source, target = make_sqlite(), make_sqlite()
    for url in (source, target):
        catalog_fixture.create_schema(url)
    catalog_fixture.seed(source, products=50)
    with open_context(load_spec(spec_path), source, target) as ctx:
        run_backfill(ctx)
    catalog_fixture.execute(target, "UPDATE catalog_product SET name = 'drift' WHERE id = 7")
    started = time.monotonic()
    with open_context(load_spec(spec_path), source, target) as ctx:
        report = run_verify(ctx, settle_s=30)
    assert not report.clean and report.settled is True
    assert report.tables[1].different == [(7,)]
    assert time.monotonic() - started < 10  # nothing was pending: no waiting for a sync that has nothing to do
