"""Fixtures of the edge tests (loaded with `pytest_plugins = ["edge_fixtures"]`): the recording upstreams, and each
data plane in front of them."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from conftest import LoopThread
from data_planes import NginxPlane, PythonPlane, Upstreams, nginx_missing


@pytest.fixture(scope="module")
def upstreams(loop_thread: LoopThread) -> Iterator[Upstreams]:
    ups = Upstreams(loop_thread)
    yield ups
    ups.close()


@pytest.fixture(scope="module", params=["python", "nginx"])
def plane(
    request: pytest.FixtureRequest,
    loop_thread: LoopThread,
    upstreams: Upstreams,
) -> Iterator[PythonPlane | NginxPlane]:
    """Each conformance test runs once on the Python proxy and once on nginx serving the exported configuration."""
    table = upstreams.table()
    if request.param == "python":
        p: PythonPlane | NginxPlane = PythonPlane(loop_thread, table)
    else:
        missing = nginx_missing()
        if missing:
            if os.environ.get("CI"):
                pytest.fail(missing)
            pytest.skip(missing)
        p = NginxPlane(loop_thread, table)
    yield p
    p.close()
