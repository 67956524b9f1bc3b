"""Serve Strangler for the comparison benchmark: `python compare_target.py PORT MONOLITH SERVICE COMPARE DB`.

The route `/api` is in stage shadow (every GET mirrored to SERVICE). COMPARE=1 attaches the comparator (noise
sampling, gates, mismatches stored in the SQLite file DB), COMPARE=0 mirrors without comparing. One process, one
event loop (uvloop), access log off, like `strangler_target.py`.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from strangler_proxy.compare.comparator import Comparator
from strangler_proxy.compare.mismatch_store import open_mismatch_store
from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.model import Route, RouteTable, Stage, Upstream
from strangler_proxy.dataplane.settings import ProxySettings
from strangler_proxy.http.server import ProxyServer, new_event_loop


async def main(port: int, monolith_url: str, service_url: str, compare: bool, db: str) -> None:
    table = RouteTable(
        version=1,
        upstreams={"monolith": Upstream("monolith", monolith_url), "service": Upstream("service", service_url)},
        routes=(Route("/api", "service", Stage.SHADOW),),
    )
    app = ProxyApp(table, ProxySettings(access_log=False))
    comparator = Comparator(app, mismatches=open_mismatch_store(db)) if compare else None
    if comparator is not None:
        comparator.start()
    server = ProxyServer(public_app=app, host="127.0.0.1", port=port)
    await server.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.request_stop)
    await server.wait_stop_requested()
    if comparator is not None:
        tally = comparator.noise.route("/api")
        print(
            f"compared={tally.compared} net_diffs={tally.net_diffs} noise_samples={tally.noise_samples}",
            file=sys.stderr,
            flush=True,
        )
        await comparator.close()
    await server.stop()


if __name__ == "__main__":
    args = sys.argv[1:]
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(main(int(args[0]), args[1], args[2], args[3] == "1", args[4]))
