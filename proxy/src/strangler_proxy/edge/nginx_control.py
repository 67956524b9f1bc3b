"""Running nginx from Python: find it, test a configuration (`nginx -t`), reload it gracefully (SIGHUP to the master).

Everything is addressed by a prefix directory (`nginx -p DIR`): the standalone configuration keeps its pid file,
error log and temporary files there, so nginx runs as any user on unprivileged ports.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from strangler_proxy.errors import NginxRefused

DEBIAN_NGINX = "/usr/sbin/nginx"
PID_FILE = "nginx.pid"


def find_nginx(explicit: str | None = None) -> str:
    """The nginx binary: `explicit`, else `nginx` on PATH, else Debian's /usr/sbin/nginx."""
    found = explicit or shutil.which("nginx") or (DEBIAN_NGINX if os.access(DEBIAN_NGINX, os.X_OK) else None)
    if found is None:
        raise NginxRefused("nginx not found: install it (Debian: apt-get install nginx) or pass --nginx PATH")
    return found


def check_config(nginx: str, conf: Path, prefix: Path) -> None:
    """`nginx -t` on `conf`; raise `NginxRefused` with nginx's own words when it refuses.

    Run as root for a prefix another user owns (nginx runs as that user), the test runs as that user too: it then
    meets the same permissions nginx will, and leaves no root-owned file (nginx -t writes an empty pid file) that
    the unprivileged master could not open."""
    command = [nginx, "-t", "-q", "-e", "stderr", "-p", str(prefix), "-c", str(conf)]
    try:
        owner = prefix.stat()
    except OSError as exc:
        raise NginxRefused(f"nginx's prefix {prefix} cannot be read: {exc}") from exc
    if os.geteuid() == 0 and owner.st_uid != 0 and shutil.which("setpriv"):
        drop = ["setpriv", f"--reuid={owner.st_uid}", f"--regid={owner.st_gid}", "--clear-groups", "--"]
        command = [*drop, *command]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NginxRefused(f"cannot run {nginx} -t: {exc}") from exc
    if done.returncode != 0:
        raise NginxRefused(f"nginx -t refused {conf}: {done.stderr.strip() or done.stdout.strip()}")


def master_pid(prefix: Path) -> int | None:
    try:
        return int((prefix / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def reload(prefix: Path) -> int:
    """Ask the running master to re-read its configuration (graceful: old workers finish their requests)."""
    pid = master_pid(prefix)
    if pid is None:
        raise NginxRefused(f"no nginx master pid in {prefix / PID_FILE}: is nginx running with -p {prefix}?")
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:
        raise NginxRefused(f"cannot signal the nginx master (pid {pid}): {exc}") from exc
    return pid
