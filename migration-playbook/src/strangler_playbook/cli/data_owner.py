"""Who owns a spec's data, for `status` and `plan`: they look at the direction the data flows now (reverse once a
cutover gave the service the data, forward again after a rollback) and say so, instead of showing an abandoned
direction as "not started" and offering a fresh copy over live data.

The owner is the handover journal's (`<spec>/handover` in the service database). A handover that finished had a
clean verify with writes held: until the new direction runs a verify of its own, that one is its last verify.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from typing import Any

from strangler_playbook.database.connection import connect
from strangler_playbook.database.state import read_state
from strangler_playbook.handover.run import journal_name
from strangler_playbook.spec.spec import Spec

FLOWS = {"monolith": "monolith → service", "service": "service → monolith"}


@dataclass(frozen=True)
class DataOwner:
    owner: str  # monolith | service
    handed_over_at: str | None  # when the last handover (cutover or rollback) wrote its journal; None: never
    running: str | None  # a handover under way (or stopped half done): its operation

    @property
    def reverse(self) -> bool:
        """The sync runs service → monolith."""
        return self.owner == "service"

    @property
    def by(self) -> str:
        return "cutover" if self.owner == "service" else "rollback"

    def as_dict(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "flows": FLOWS[self.owner],
            "since": self.handed_over_at,
            "by": self.by if self.handed_over_at else None,
            "handover_running": self.running,
        }

    def sentence(self) -> str:
        """`the service owns the data (since the cutover at …); the sync runs service → monolith`."""
        since = f" (since the {self.by} at {self.handed_over_at})" if self.handed_over_at else ""
        return f"the {self.owner} owns the data{since}; the sync runs {FLOWS[self.owner]}"

    def handover_verify(self) -> dict[str, Any] | None:
        """The last finished handover's verify (clean, writes held), standing in for a direction with none yet."""
        if self.handed_over_at is None or self.running:
            return None
        return {"at": self.handed_over_at, "clean": True, "by": f"the {self.by}, with writes held"}


def read_owner(spec: Spec, service_url: str) -> DataOwner:
    """The owner the handover journal records; the monolith when no handover ever ran."""
    with closing(connect(service_url, role="target")) as db:
        journal = read_state(db, journal_name(spec.name))
    if not isinstance(journal, dict):
        return DataOwner("monolith", None, None)
    owner = "service" if journal.get("owner") == "service" else "monolith"
    return DataOwner(owner, journal.get("at"), journal.get("op") or None)


def with_owner(status: dict[str, Any], owner: DataOwner) -> dict[str, Any]:
    """`read_status`'s answer with who owns the data, and the handover's verify when this direction has none."""
    last = status.get("last_verify") or owner.handover_verify()
    return {**status, "data_owner": owner.as_dict(), "last_verify": last}


def owner_steps(owner: DataOwner) -> list[str]:
    """What `plan` says first once a handover has happened: nothing is copied over data someone owns."""
    if owner.handed_over_at is None:
        return []
    if owner.owner == "service":
        return [
            f"the service owns the data since the cutover at {owner.handed_over_at}: nothing to copy; the reverse "
            "sync keeps the monolith current (`strangler data status SPEC`); `strangler data rollback SPEC` gives "
            "the data back to the monolith"
        ]
    return [
        f"the monolith owns the data again since the rollback at {owner.handed_over_at}: nothing to copy; the "
        "forward sync restarted there from a verified state (`strangler data status SPEC`)"
    ]
