"""Serve Strangler's proxy for the benchmark: `python strangler_target.py PORT MONOLITH_URL SERVICE_URL STAGE`.

One process, one event loop (uvloop), access log off (as a production proxy behind a log sampler would run it is
not the point here: the forwarding path is), metrics on, and the write hold in front as `strangler proxy` puts it.
With STRANGLER_BENCH_PROFILE=FILE it runs under cProfile and writes the stats to FILE when stopped (SIGTERM).
"""

from __future__ import annotations

import cProfile
import os
import sys
import time

from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.model import Route, RouteTable, Stage, Upstream
from strangler_proxy.dataplane.settings import ProxySettings
from strangler_proxy.dataplane.write_hold import WriteHoldMiddleware
from strangler_proxy.http.server import run


def main() -> None:
    port, monolith_url, service_url, stage = int(sys.argv[1]), sys.argv[2], sys.argv[3], Stage(sys.argv[4])
    table = RouteTable(
        version=1,
        upstreams={"monolith": Upstream("monolith", monolith_url), "service": Upstream("service", service_url)},
        routes=(Route("/api", "service", stage),),
    )
    app = WriteHoldMiddleware(ProxyApp(table, ProxySettings(access_log=False)))
    profile = os.environ.get("STRANGLER_BENCH_PROFILE")
    if not profile:
        run(public_app=app, host="127.0.0.1", port=port)
        return
    profiler = cProfile.Profile(time.process_time)  # CPU time: a shared machine's preemptions are not charged
    profiler.runcall(run, public_app=app, host="127.0.0.1", port=port)
    profiler.dump_stats(profile)


if __name__ == "__main__":
    main()
