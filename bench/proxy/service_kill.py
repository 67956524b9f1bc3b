"""Benchmark (issue 19): the service killed with SIGKILL under a mixed load through the proxy at `live`, then
restarted; what the clients saw.

    .venv/bin/python bench/proxy/service_kill.py [--clients 16] [--down 10] [--proxy-src DIR] [--json]

Real processes (`proxy/tests/service_kill.py`): the proxy, a monolith double and a service double; keep-alive clients,
30% writes whose head and body go in separate writes. Prints failed safe requests (GET: they must fall back to the
monolith), failed unsafe ones (writes to a dead service fail, and are never applied twice), the time from the kill
to the breaker opening, and from the restarted service answering its health check to the first request it served.
`--proxy-src` runs the proxy from another checkout's `proxy/src` (e.g. `git archive <commit> proxy/src`), for a
before/after in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "proxy" / "tests"))

import service_kill  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16, help="keep-alive clients (default 16)")
    parser.add_argument("--writes", type=float, default=0.3, help="share of writes (default 0.3)")
    parser.add_argument("--down", type=float, default=10.0, help="seconds the service stays dead (default 10)")
    parser.add_argument("--after", type=float, default=5.0, help="seconds of load after it is back (default 5)")
    parser.add_argument("--proxy-src", type=Path, help="run the proxy from this proxy/src instead")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    if options.proxy_src:
        os.environ["PYTHONPATH"] = str(options.proxy_src.resolve())
    with tempfile.TemporaryDirectory() as folder:
        result = service_kill.run(
            Path(folder),
            clients=options.clients,
            write_share=options.writes,
            warm=2.0,
            down=options.down,
            after=options.after,
        )
    figures = {
        **result.as_dict(),
        "clients": options.clients,
        "down_s": options.down,
        "proxy": str(options.proxy_src or "this checkout"),
    }
    if options.json:
        print(json.dumps(figures))
        return
    print(f"proxy from {figures['proxy']}: {options.clients} clients, service dead {options.down:g} s")
    print(f"  requests            {result.requests} ({result.safe} safe, {result.unsafe} unsafe)")
    print(f"  failed safe         {result.failed_safe}")
    print(f"  failed unsafe       {result.failed_unsafe}")
    print(f"  writes applied 2x   {result.writes_applied_twice}")
    print(f"  kill -> breaker open      {result.seconds_to_breaker_open} s")
    print(f"  health answers -> served  {result.seconds_to_recovery} s")
    if result.failures:
        print("  first safe failures: " + "; ".join(result.failures))


if __name__ == "__main__":
    main()
