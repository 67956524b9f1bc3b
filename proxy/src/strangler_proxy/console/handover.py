"""The steps of each cutover or rollback, as the proxy sees the engine make them through the admin API.

`strangler data cutover|rollback` holds writes (`POST /holds`, holder `<spec>/<op>/<run>`), drains and verifies
(the verify's time comes with the commit's report), commits the new owner (`PUT /data-state` with a fence),
moves the routes (`POST /routes`) and releases the holds (`DELETE /holds`, with how many requests waited), or does
those two in one call (`POST /holds/finish`). The
console observes those calls as they are answered (`AdminApp.observe`), so each step's time is the moment the
proxy took it, and keeps the last few handovers for the cutover view.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

KEEP = 10


@dataclass
class Handover:
    holder: str  # <spec>/<op>/<run>
    started: float  # unix time
    steps: list[dict[str, Any]] = field(default_factory=list)
    holds: set[str] = field(default_factory=set)
    held: int = 0
    finished: float | None = None

    def step(self, name: str, detail: str, at: float | None = None) -> None:
        at = time.time() if at is None else at
        self.steps.append({"step": name, "detail": detail, "at": at, "offset_ms": round((at - self.started) * 1000)})

    def as_dict(self) -> dict[str, Any]:
        spec, _, rest = self.holder.partition("/")
        op = rest.partition("/")[0]
        end = self.finished if self.finished is not None else time.time()
        return {
            "holder": self.holder,
            "spec": spec,
            "op": op or "hold",
            "started": self.started,
            "running": self.finished is None,
            "duration_ms": round((end - self.started) * 1000),
            "held": self.held,
            "steps": sorted(self.steps, key=lambda s: s["at"]),
        }


class HandoverLog:
    def __init__(self) -> None:
        self.handovers: deque[Handover] = deque(maxlen=KEEP)
        self._by_hold: dict[str, Handover] = {}

    def observe(self, method: str, path: str, body: dict[str, Any] | None, answer: Any) -> None:
        body = body or {}
        if path == "/holds" and method == "POST" and isinstance(answer, dict):
            self._held(str(body.get("holder") or "operator"), answer)
        elif path == "/holds" and method == "DELETE" and isinstance(answer, dict):
            self._released(answer)
        elif path == "/data-state" and method == "PUT" and isinstance(answer, dict):
            self._reported(body, answer)
        elif path in ("/routes", "/rollback") and method == "POST" and isinstance(answer, dict):
            self._routed(answer)
        elif path == "/holds/finish" and method == "POST" and isinstance(answer, dict):
            self._routed(answer)
            for released in answer.get("holds") or []:
                self._released(released)

    def recent(self) -> list[dict[str, Any]]:
        return [h.as_dict() for h in reversed(self.handovers)]

    def _running(self) -> list[Handover]:
        return [h for h in self.handovers if h.finished is None]

    def _held(self, holder: str, hold: dict[str, Any]) -> None:
        current = next((h for h in self._running() if h.holder == holder), None)
        if current is None:
            current = Handover(holder, time.time())
            self.handovers.append(current)
        current.holds.add(str(hold.get("id")))
        self._by_hold[str(hold.get("id"))] = current
        detail = f"writes to {hold.get('path')} held (hold {hold.get('id')}, at most {hold.get('timeout')}s)"
        current.step("hold", detail)

    def _released(self, answer: dict[str, Any]) -> None:
        current = self._by_hold.pop(str(answer.get("id")), None)
        if current is None:
            return
        released = int(answer.get("released") or 0)
        hold = answer.get("hold") or {}
        current.held += int(hold.get("held_total") or released)
        waits = answer.get("waits") or {}
        current.step(
            "release",
            f"{hold.get('held_total', released)} held request(s) went on to the owner (p99 wait "
            f"{waits.get('p99_ms', '-')} ms)",
        )
        current.holds.discard(str(answer.get("id")))
        if not current.holds:
            current.finished = time.time()

    def _reported(self, body: dict[str, Any], answer: dict[str, Any]) -> None:
        running = [h for h in self._running() if h.holder.split("/")[0] == answer.get("spec")]
        if not running:
            return
        current = running[-1]
        verified = _timestamp(answer.get("verified_at"))
        if verified is not None and verified >= current.started:
            current.step("drain + verify", "sync drained, checksums clean with writes held", verified)
        owner = answer.get("owner")
        if body.get("fence"):
            current.step("flip", f"the {owner} owns the data now; writes go there (the reverse sync captures)")
        else:
            current.step("report", f"phase {answer.get('phase')}, owner {owner}")

    def _routed(self, answer: dict[str, Any]) -> None:
        if not answer.get("changed"):
            return
        for current in self._running():
            current.step("routes", "; ".join(answer.get("diff") or []) or f"version {answer.get('version')}")


def _timestamp(raw: object) -> float | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        return None
