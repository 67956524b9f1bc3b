"""Serve Strangler's proxy for the benchmark: `python strangler_target.py PORT MONOLITH_URL SERVICE_URL STAGE`.

One process, one event loop (uvloop), access log off (as a production proxy behind a log sampler would run it is
not the point here: the forwarding path is), metrics on.
"""

from __future__ import annotations

import sys

from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.model import Route, RouteTable, Stage, Upstream
from strangler_proxy.dataplane.settings import ProxySettings
from strangler_proxy.http.server import run


def main() -> None:
    port, monolith_url, service_url, stage = int(sys.argv[1]), sys.argv[2], sys.argv[3], Stage(sys.argv[4])
    table = RouteTable(
        version=1,
        upstreams={"monolith": Upstream("monolith", monolith_url), "service": Upstream("service", service_url)},
        routes=(Route("/api", "service", stage),),
    )
    app = ProxyApp(table, ProxySettings(access_log=False))
    run(public_app=app, host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
