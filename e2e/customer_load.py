"""Customers writing through the proxy without pause while a walk's commands run: one thread and one connection per
persona, started by `with load:` and stopped at the block's end, as many times as a walk needs (what they saw
acknowledged accumulates). A walk subclasses `CustomerLoad` with what one customer does (`run`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Self

import httpx

from parity import PUBLIC_HOST
from waiting import wait_for

PATIENCE = 30.0  # seconds `wait_for_more` waits for the customers' requests on a loaded machine


@dataclass
class CustomerLoad:
    proxy_url: str
    _: KW_ONLY
    failures: list[str] = field(default_factory=list)
    requests: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def personas(self) -> list[str]:
        raise NotImplementedError

    def run(self, persona: str) -> None:
        """What one customer does until `stop` is set: make requests with `client`, numbered by `numbered`, and
        tell each answer to `answered`."""
        raise NotImplementedError

    def client(self, token: str) -> httpx.Client:
        headers = {"Host": PUBLIC_HOST, "Authorization": f"Token {token}"}
        return httpx.Client(base_url=self.proxy_url, headers=headers, timeout=30)

    def numbered(self) -> Iterator[int]:
        """1, 2, 3, … until the load is stopped."""
        n = 0
        while not self.stop.is_set():
            n += 1
            yield n

    def answered(self, persona: str, answer: httpx.Response, expected: int) -> Any:
        """Count the request; its JSON body when it was answered `expected`, else None (and the failure kept)."""
        with self.lock:
            self.requests += 1
            if answer.status_code != expected:
                self.failures.append(f"{persona} {answer.request.url.path} {answer.status_code} {answer.text[:300]}")
                return None
        return answer.json()

    def __enter__(self) -> Self:
        self.stop.clear()
        self.workers = [threading.Thread(target=self.run, args=(p,), daemon=True) for p in self.personas()]
        for worker in self.workers:
            worker.start()
        self.wait_for_more(4)  # under way before the command starts
        return self

    def wait_for_more(self, count: int) -> None:
        """Until the customers have made `count` more requests (polled, at most PATIENCE seconds)."""
        target = self.requests + count
        wait_for(lambda: self.requests >= target or bool(self.failures), f"{count} more requests", PATIENCE)
        assert not self.failures, self.failures

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for worker in self.workers:
            worker.join(2 * PATIENCE)
