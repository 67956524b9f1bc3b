"""Which side owns each migration spec's data, as the control plane last committed it (`PUT /data-state`).

    owners = DataOwners()
    owners.set("catalog", "service")      # the control plane, on the event loop's thread, under a write hold
    owners.get("catalog")                 # "service"; None for a spec the proxy has no report of

`stages.decide` sends an unsafe request on a route that declares `data = "<spec>"` to the side that owns the
spec's data, whatever the route's stage: the engine keeps change capture on the owner until the proxy is known to
send writes elsewhere, so every write the proxy forwards lands where its change is captured, and a write hold that
ends (released, expired, or its holder gone) can let its writes go on safely.
"""

from __future__ import annotations

MONOLITH = "monolith"
SERVICE = "service"
OWNERS = (MONOLITH, SERVICE)


class DataOwners:
    """Spec name → owner. Read on every unsafe request of a data route; changed only by the control plane."""

    def __init__(self, owners: dict[str, str] | None = None) -> None:
        self._owners: dict[str, str] = {}
        for spec, owner in (owners or {}).items():
            self.set(spec, owner)

    def get(self, spec: str) -> str | None:
        return self._owners.get(spec)

    def set(self, spec: str, owner: str) -> None:
        if owner not in OWNERS:
            raise ValueError(f"owner {owner!r} is not one of {', '.join(OWNERS)}")
        self._owners[spec] = owner

    def as_dict(self) -> dict[str, str]:
        return dict(self._owners)
