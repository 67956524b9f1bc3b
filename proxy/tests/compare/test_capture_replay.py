"""Capture a corpus at the real proxy, replay it with `strangler replay` against two real upstreams, read the report."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from compare_helpers import Shop, require_installed_commands
from conftest import LoopThread, Stack, start_stack, stop_stack
from control_plane_helpers import STRANGLER
from strangler_proxy.compare.capture import CaptureMiddleware, CorpusWriter
from strangler_proxy.compare.replay import read_corpus, replay
from strangler_proxy.errors import CorpusInvalid
from strangler_proxy.http.server import ProxyServer, ServerLimits
from upstream_double import Upstream

PRODUCTS = "/api/catalog/products"


@dataclass
class Recorder:
    stack: Stack
    server: ProxyServer
    writer: CorpusWriter
    path: Path

    def request(
        self, method: str, target: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> int:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.server.public_port, timeout=10)
        try:
            conn.request(method, target, body=body, headers=headers or {})
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    def lines(self) -> list[dict[str, object]]:
        self.writer.flush()
        return [json.loads(line) for line in self.path.read_text().splitlines()]


def start_recorder(lt: LoopThread, path: Path, sample: float = 1.0, max_bytes: int = 1 << 20) -> Recorder:
    stack = start_stack(lt)
    shop = Shop()

    async def start() -> tuple[ProxyServer, CorpusWriter]:
        stack.monolith.handler = shop.handle
        writer = CorpusWriter(path, max_bytes=max_bytes)
        server = ProxyServer(
            public_app=CaptureMiddleware(stack.app, writer, sample=sample),
            host="127.0.0.1",
            port=0,
            limits=ServerLimits(shutdown_grace=1),
        )
        await server.start()
        return server, writer

    server, writer = lt.run(start())
    return Recorder(stack, server, writer, path)


def stop_recorder(recorder: Recorder) -> None:
    recorder.stack.lt.run(recorder.server.stop())
    recorder.writer.close()
    stop_stack(recorder.stack)


@pytest.fixture
def recorder(loop_thread: LoopThread, tmp_path: Path) -> Iterator[Recorder]:
    r = start_recorder(loop_thread, tmp_path / "corpus.jsonl")
    yield r
    stop_recorder(r)


def test_the_proxy_records_requests_as_redacted_json_lines(recorder: Recorder) -> None:
    assert recorder.request("GET", PRODUCTS + "?page=1&token=abc", headers={"Authorization": "Token s3cret"}) == 200
    recorder.request(
        "POST", PRODUCTS, body=b'{"name": "cap", "password": "hunter2"}', headers={"Content-Type": "application/json"}
    )
    first, second = recorder.lines()
    assert (first["method"], first["target"], first["status"]) == (
        "GET",
        PRODUCTS + "?page=1&token=%5Bredacted%5D",
        200,
    )
    assert ["authorization", "[redacted]"] in first["headers"]
    assert second["method"] == "POST" and json.loads(str(second["body"])) == {"name": "cap", "password": "[redacted]"}
    text = recorder.path.read_text()
    assert "s3cret" not in text and "hunter2" not in text and "abc" not in text
    assert [r.method for r in read_corpus(recorder.path)] == ["GET", "POST"]


def test_nothing_is_recorded_at_sample_zero_and_recording_stops_at_the_size_cap(
    loop_thread: LoopThread, tmp_path: Path
) -> None:
    none = start_recorder(loop_thread, tmp_path / "none.jsonl", sample=0.0)
    try:
        none.request("GET", PRODUCTS)
        assert none.lines() == []
    finally:
        stop_recorder(none)
    capped = start_recorder(loop_thread, tmp_path / "capped.jsonl", max_bytes=400)
    try:
        for _ in range(10):
            capped.request("GET", PRODUCTS)
        assert 1 <= len(capped.lines()) < 10 and capped.path.stat().st_size <= 400
    finally:
        stop_recorder(capped)


@pytest.fixture
def two_shops(loop_thread: LoopThread) -> Iterator[tuple[Upstream, Upstream, Shop, Shop]]:
    primary_shop, candidate_shop = Shop(timestamp=True), Shop(timestamp=True, price_style="short")
    primary, candidate = Upstream("primary", primary_shop.handle), Upstream("candidate", candidate_shop.handle)
    loop_thread.run(primary.start())
    loop_thread.run(candidate.start())
    yield primary, candidate, primary_shop, candidate_shop
    loop_thread.run(primary.stop())
    loop_thread.run(candidate.stop())


def strangler_replay(*args: str) -> subprocess.CompletedProcess[str]:
    require_installed_commands()
    return subprocess.run([STRANGLER, "replay", *args], capture_output=True, text=True, timeout=60, check=False)


def write_corpus(path: Path, *lines: dict[str, object]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def get(target: str) -> dict[str, object]:
    return {"v": 1, "method": "GET", "target": target, "headers": [["accept", "application/json"]], "body": ""}


def test_replay_writes_a_report_naming_the_differing_field_and_the_noise(
    two_shops: tuple[Upstream, Upstream, Shop, Shop], tmp_path: Path
) -> None:
    primary, candidate, _, candidate_shop = two_shops
    post = {"v": 1, "method": "POST", "target": PRODUCTS, "headers": [], "body": '{"name": "x"}'}
    corpus = write_corpus(tmp_path / "corpus.jsonl", *[get(PRODUCTS + f"?page={n}") for n in range(12)], post)
    result = strangler_replay(
        str(corpus),
        "--primary",
        primary.url,
        "--candidate",
        candidate.url,
        "--rate",
        "500",
        "--report",
        str(tmp_path / "parity"),
    )
    assert result.returncode == 8, result.stderr
    assert "DIFFERENCES: 12 of 12 requests (100.0%) differ beyond noise" in result.stdout
    md = (tmp_path / "parity.md").read_text()
    assert "**DIFFERENCES: 12 of 12 requests (100.0%) differ beyond noise**" in md
    assert "| skipped: unsafe method (use --unsafe) | 1 |" in md
    assert (
        f'| `$.results[*].price` | 12 | 0 | 12 | GET {PRODUCTS}?page=0 at $.results[1].price | "15.00" | "15" |' in md
    )
    assert "| `$.generated_at` (noise) | 12 |" in md and "| 0 | " in md.split("`$.generated_at` (noise)")[1]
    assert md.index("`$.results[*].price`") < md.index("`$.generated_at`")  # most net differences first
    assert '- `$.results[1].price` (changed): primary "15.00", candidate "15"\n' in md
    assert "- `$.generated_at` (changed): primary " in md and md.count(" — noise, not counted") == 12
    page = (tmp_path / "parity.html").read_text()
    assert "<code>$.results[*].price</code>" in page and "&quot;15.00&quot;" in page
    assert [r.method for r in candidate.received] == ["GET"] * 12  # the POST was not replayed
    assert sorted(candidate_shop.products) == [1, 2]


def test_replay_of_identical_upstreams_reports_parity(loop_thread: LoopThread, tmp_path: Path) -> None:
    a, b = Upstream("a", Shop().handle), Upstream("b", Shop().handle)
    loop_thread.run(a.start())
    loop_thread.run(b.start())
    try:
        corpus = write_corpus(tmp_path / "c.jsonl", get(PRODUCTS), get(PRODUCTS + "?page=2"))
        report = replay(read_corpus(corpus), primary=a.url, candidate=b.url, rate=500)
        assert (report.replayed, report.equal, report.differing, report.fields) == (2, 2, 0, [])
    finally:
        loop_thread.run(a.stop())
        loop_thread.run(b.stop())


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read the corpus"),
        ("not json\n", ":1 is not JSON"),
        ('{"method": "GET"}\n', ":1: target must be a path"),
        ('{"method": "G T", "target": "/"}\n', "method must be an HTTP method"),
        ('{"method": "GET", "target": "/", "headers": {"a": "b"}}\n', "headers must be a list"),
        ("\n\n", "holds no requests"),
    ],
)
def test_an_unreadable_corpus_is_refused_before_anything_is_sent_or_written(
    content: str | None, words: str, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus.jsonl"
    if content is not None:
        corpus.write_text(content)
    with pytest.raises(CorpusInvalid, match=words):
        read_corpus(corpus)
    if content not in (None, "not json\n"):
        return  # the CLI path is the same for every bad line: two subprocesses check it
    result = strangler_replay(
        str(corpus),
        "--primary",
        "http://127.0.0.1:9",
        "--candidate",
        "http://127.0.0.1:9",
        "--report",
        str(tmp_path / "parity"),
    )
    assert result.returncode == 1 and words in result.stderr
    assert not (tmp_path / "parity.md").exists()


def test_replay_against_nothing_listening_fails_with_exit_code_3(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", get(PRODUCTS))
    result = strangler_replay(
        str(corpus),
        "--primary",
        "http://127.0.0.1:9",
        "--candidate",
        "http://127.0.0.1:9",
        "--report",
        str(tmp_path / "parity"),
        "--json",
    )
    assert result.returncode == 3
    assert json.loads(result.stdout)["error"] == "replay_failed"
