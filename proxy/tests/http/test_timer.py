"""The lazy timer both sides of the proxy use: one handle per connection, moved by attribute writes, firing once
at the last deadline armed."""

from __future__ import annotations

import asyncio

from strangler_proxy.http.timer import LazyTimer


def first_fire(*delays: float | None) -> float:
    """Arm each delay in turn (None: disarm) at once; seconds until the timer first fired."""

    async def main() -> float:
        loop = asyncio.get_running_loop()
        fired = loop.create_future()
        timer = LazyTimer(loop, lambda: fired.done() or fired.set_result(loop.time() - started))
        started = loop.time()
        for delay in delays:
            if delay is None:
                timer.disarm()
            else:
                timer.arm(delay)
        try:
            return float(await asyncio.wait_for(fired, 5))
        finally:
            timer.cancel()

    return asyncio.run(main())


def test_arming_later_moves_the_deadline_instead_of_firing_at_the_first() -> None:
    assert first_fire(0.02, 0.15) >= 0.15


def test_arming_sooner_fires_sooner() -> None:
    assert 0.02 <= first_fire(1.0, 0.02) < 1.0


def test_a_disarmed_deadline_never_fires_and_a_new_one_does() -> None:
    assert first_fire(0.02, None, 0.1) >= 0.1
