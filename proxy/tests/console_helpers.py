"""Helpers of the console tests: the running proxy they share, traffic through it, a logged-in HTTP client."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import httpx
from control_plane_helpers import ADMIN_TOKEN, ProxyProcess
from strangler_proxy.control.admin_client import AdminClient

CATALOG = "/api/catalog"


@dataclass
class Running:
    proxy: ProxyProcess
    admin: AdminClient
    monolith: str
    catalog: str

    @property
    def console(self) -> str:
        return self.proxy.admin_url + "/console"


class Traffic:
    """Reads through the public listener from a thread, until stopped: what the console's live numbers show."""

    def __init__(self, public_url: str, path: str) -> None:
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(public_url, path), daemon=True)
        self._thread.start()

    def _run(self, public_url: str, path: str) -> None:
        with httpx.Client(base_url=public_url, timeout=10) as client:
            while not self._stop.wait(0.02):
                client.get(f"{path}/{self.sent % 7 + 1}")
                self.sent += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def bearer() -> dict[str, str]:
    return {"authorization": f"Bearer {ADMIN_TOKEN}"}


def logged_in(console: str, name: str = "alice") -> httpx.Client:
    """An httpx client holding a console session (as the login form makes it)."""
    client = httpx.Client(base_url=console.removesuffix("/console"), timeout=10)
    origin = str(client.base_url).rstrip("/")
    answer = client.post("/console/login", data={"token": ADMIN_TOKEN, "name": name}, headers={"origin": origin})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/", answer.text
    return client
