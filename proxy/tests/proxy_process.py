"""Run a proxy in a process of its own (for memory measurements): `python proxy_process.py MONOLITH_URL`.

Prints the bound port on the first line of stdout, serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import sys

from strangler_proxy.dataplane.app import ProxyApp
from strangler_proxy.dataplane.model import RouteTable, Upstream
from strangler_proxy.http.server import ProxyServer, ServerLimits, new_event_loop


async def main(monolith_url: str) -> None:
    import asyncio
    import signal

    table = RouteTable(
        version=1, upstreams={"monolith": Upstream("monolith", monolith_url, read_timeout=60)}, routes=()
    )
    # no body size limit: the streaming tests send 1 GiB through it
    server = ProxyServer(public_app=ProxyApp(table), host="127.0.0.1", port=0, limits=ServerLimits(max_body=0))
    await server.start()
    print(server.public_port, flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.request_stop)
    await server.wait_stop_requested()
    await server.stop()


if __name__ == "__main__":
    import asyncio

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(main(sys.argv[1]))
