"""The console's server-side sessions: a random id in an HttpOnly, SameSite=Strict cookie names a session held in
this process's memory, with its own CSRF token, the operator's name (for the audit log) and two expiries.

A session ends on logout, after `idle` seconds without a request, or `lifetime` seconds after login, whichever
comes first; a restarted proxy forgets every session (operators log in again). Ids and CSRF tokens are 256-bit
`secrets` values, compared in constant time, and never logged.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field

DEFAULT_IDLE = 30 * 60.0
DEFAULT_LIFETIME = 12 * 3600.0
MAX_SESSIONS = 1000


@dataclass
class Session:
    id: str
    name: str
    csrf: str
    created: float
    seen: float = field(default=0.0)

    def csrf_matches(self, presented: str) -> bool:
        return bool(presented) and hmac.compare_digest(presented.encode(), self.csrf.encode())


class Sessions:
    def __init__(self, *, idle: float = DEFAULT_IDLE, lifetime: float = DEFAULT_LIFETIME) -> None:
        self.idle = idle
        self.lifetime = lifetime
        self._sessions: dict[str, Session] = {}

    def start(self, name: str) -> Session:
        self._expire()
        if len(self._sessions) >= MAX_SESSIONS:  # oldest first: a flood of logins cannot grow memory
            oldest = min(self._sessions.values(), key=lambda s: s.created)
            del self._sessions[oldest.id]
        now = time.monotonic()
        session = Session(secrets.token_urlsafe(32), name, secrets.token_urlsafe(32), now, now)
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id (and it counts as seen now), or None."""
        if not session_id:
            return None
        self._expire()
        session = next((s for k, s in self._sessions.items() if hmac.compare_digest(k, session_id)), None)
        if session is not None:
            session.seen = time.monotonic()
        return session

    def end(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def remaining(self, session: Session) -> float:
        now = time.monotonic()
        return max(0.0, min(session.seen + self.idle, session.created + self.lifetime) - now)

    def _expire(self) -> None:
        now = time.monotonic()
        dead = [k for k, s in self._sessions.items() if now > min(s.seen + self.idle, s.created + self.lifetime)]
        for k in dead:
            del self._sessions[k]
