"""Ghostferry-style proof: a writer keeps writing while the engine is killed with SIGKILL and resumed.

Forward (monolith → service), then after a flip of ownership in reverse (service → monolith): each time the sync
drains, verify is clean, and every acknowledged write is in the other database.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import catalog_fixture

HERE = Path(__file__).parent
KILLS_PER_PHASE = 5


def engine(command: str, spec: Path, source: str, target: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "strangler_playbook",
            command,
            str(spec),
            "--source",
            source,
            "--target",
            target,
            "--json",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_to_completion(*args: Any) -> dict[str, Any]:
    proc = engine(*args)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, f"{args[0]} exited {proc.returncode}: {err}\n{out}"
    return json.loads(out)


def wait_until_it_catches(proc: subprocess.Popen[str], signum: int, timeout: float = 30) -> None:
    """Until the process has a handler for `signum` (Linux: the SigCgt mask of /proc/PID/status)."""
    deadline = time.monotonic() + timeout
    while True:
        status = Path(f"/proc/{proc.pid}/status").read_text()
        caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
        if caught & (1 << (signum - 1)) or proc.poll() is not None:
            return
        assert time.monotonic() < deadline, f"the engine never installed its handler for signal {signum}"
        time.sleep(0.02)


def run_with_kills(rng: random.Random, command: str, *args: Any, extra: tuple[str, ...] = ()) -> int:
    """Start the engine, SIGKILL it at a random moment (startup takes ≈0.7 s), restart, KILLS_PER_PHASE times;
    then let the last run finish by itself (backfill) or end it with SIGTERM (sync --follow)."""
    for kills in range(KILLS_PER_PHASE + 1):
        proc = engine(command, *args, *extra)
        last = kills == KILLS_PER_PHASE
        try:
            proc.wait(timeout=rng.uniform(0.8, 2.2) if not last else (60 if command == "backfill" else 3))
        except subprocess.TimeoutExpired:
            if last:
                wait_until_it_catches(proc, signal.SIGTERM)  # a loaded machine may still be importing
                proc.send_signal(signal.SIGTERM)
                _, err = proc.communicate(timeout=10)
                assert proc.returncode == 0, f"{command} did not stop cleanly on SIGTERM: {err}"
                return kills
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            continue
        _, err = proc.communicate()
        assert proc.returncode == 0, f"{command} exited {proc.returncode}: {err}"
        return kills
    raise AssertionError("unreachable")


def expected_rows(log_path: Path) -> dict[int, dict[str, Any] | None]:
    expected: dict[int, dict[str, Any] | None] = {}
    for line in log_path.read_text().splitlines():
        entry = json.loads(line)
        expected[entry["id"]] = entry if entry["op"] == "upsert" else None
    return expected


def start_writer(url: str, log_path: Path, seed: int, seeded: int) -> subprocess.Popen[str]:
    writer = subprocess.Popen(
        [sys.executable, str(HERE / "harness_writer.py"), url, str(log_path), str(seed), str(seeded), "12"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    return writer


def stop_writer(writer: subprocess.Popen[str], log_path: Path) -> int:
    """SIGTERM, as the proxy's write hold would stop writes; returns the number of acknowledged writes."""
    writer.send_signal(signal.SIGTERM)
    _, err = writer.communicate(timeout=30)
    acknowledged = log_path.read_text().count("\n")
    assert acknowledged > 300, err
    return acknowledged


def missing_writes(log_path: Path, url: str) -> list[Any]:
    """Acknowledged writes whose effect is not in the database at `url`."""
    expected = expected_rows(log_path)
    conn = catalog_fixture.connect(url)
    rows = {
        r[0]: r[1:]
        for r in conn.execute("SELECT id, name, price, active FROM catalog_product").fetchall()
        if r[0] in expected
    }
    conn.close()
    wrong: list[Any] = []
    for key, entry in expected.items():
        if entry is None:
            if key in rows:
                wrong.append((key, "deleted but present"))
        elif key not in rows:
            wrong.append((key, "missing"))
        else:
            name, price, active = rows[key]
            got = (
                name,
                Decimal(repr(price) if isinstance(price, float) else price).quantize(Decimal("0.01")),
                bool(active),
            )
            if got != (entry["name"], Decimal(entry["price"]), entry["active"]):
                wrong.append((key, got, entry))
    return wrong


@pytest.mark.parametrize("engine_name", ["sqlite", "pg"])
def test_every_acknowledged_write_survives_kills_of_backfill_and_sync_in_both_directions_under_load(
    make_db, tmp_path: Path, spec_path: Path, engine_name: str
) -> None:
    rng = random.Random(int(os.environ.get("STRANGLER_HARNESS_SEED", "0")) or random.randrange(1 << 30))
    seed = rng.randrange(1 << 30)
    print(f"harness seed {seed}")
    rng = random.Random(seed)
    monolith, service = make_db(engine_name), make_db(engine_name)
    for url in (monolith, service):
        catalog_fixture.create_schema(url)
    seeded = 20_000
    catalog_fixture.seed(monolith, categories=12, products=seeded, seed_value=seed)
    args = (spec_path, monolith, service)

    # Monolith → service: backfill and sync, each killed at random moments, while the monolith takes writes.
    log_path = tmp_path / "acknowledged-monolith.jsonl"
    writer = start_writer(monolith, log_path, seed, seeded)
    try:
        backfill_kills = run_with_kills(rng, "backfill", *args, extra=("--chunk-rows", "500", "--throttle", "8000"))
        sync_kills = run_with_kills(rng, "sync", *args, extra=("--follow", "--poll", "0.05", "--batch", "200"))
    finally:
        acknowledged = stop_writer(writer, log_path)
    print(f"{acknowledged} acknowledged writes; backfill killed {backfill_kills}x, sync {sync_kills}x")
    assert backfill_kills >= 1
    assert run_to_completion("sync", *args)["pending"] == 0
    report = run_to_completion("verify", *args)
    assert report["clean"], report
    assert missing_writes(log_path, service) == []

    # The flip, with writes held: the service's sequences move past every used id, the forward capture goes,
    # the reverse capture starts from now; then the service takes writes and the reverse sync is killed too.
    run_to_completion("realign", *args)
    run_to_completion("reset", *args, "--yes")
    run_to_completion("backfill", *args, "--reverse", "--capture-only")
    log_path = tmp_path / "acknowledged-service.jsonl"
    writer = start_writer(service, log_path, seed + 1, seeded)
    try:
        reverse = ("--reverse", "--follow", "--poll", "0.05", "--batch", "200")
        reverse_kills = run_with_kills(rng, "sync", *args, extra=reverse)
    finally:
        acknowledged = stop_writer(writer, log_path)
    print(f"{acknowledged} acknowledged writes on the service; reverse sync killed {reverse_kills}x")
    assert run_to_completion("sync", *args, "--reverse")["pending"] == 0
    report = run_to_completion("verify", *args, "--reverse")
    assert report["clean"], report
    assert missing_writes(log_path, monolith) == []
