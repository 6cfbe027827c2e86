"""The adaptive bucket on its own: the window it promises, the pause, the decrease and the climb back."""

from __future__ import annotations

import asyncio
import time

import pytest

from async_usersync.umapi.throttle import AdaptiveBucket, most_in_any_window


async def release_times(bucket: AdaptiveBucket, count: int, waiters: int = 20) -> list[float]:
    released: list[float] = []

    async def waiter() -> None:
        while len(released) < count:
            await bucket.acquire()
            released.append(time.monotonic())
            bucket.done()
            bucket.accepted()

    tasks = [asyncio.create_task(waiter()) for _ in range(waiters)]
    while len(released) < count:
        await asyncio.sleep(0.01)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return released[:count]


async def test_no_window_ever_holds_more_than_the_limit():
    bucket = AdaptiveBucket(5, 0.1)
    times = await release_times(bucket, 30)
    assert most_in_any_window(times, 0.1) <= 5
    assert times == sorted(times)


async def test_a_pause_holds_every_waiter_until_it_has_passed():
    bucket = AdaptiveBucket(50, 0.1)
    await release_times(bucket, 3)
    bucket.throttled(0.2)
    until = bucket.paused_until
    times = await release_times(bucket, 10)
    assert min(times) >= until
    assert bucket.limit < 50 and bucket.stats.throttled == 1 and bucket.stats.decreases == 1


async def test_the_limit_climbs_back_to_the_configured_one_after_a_quiet_spell():
    bucket = AdaptiveBucket(20, 0.05, hold_windows=2, increase_fraction=0.25)
    bucket.throttled(0.0)
    assert bucket.limit == 10
    await release_times(bucket, 60)
    assert bucket.limit == 20 and bucket.stats.increases >= 2


async def test_a_cancelled_waiter_gives_its_turn_to_the_next():
    bucket = AdaptiveBucket(1, 0.2)
    await bucket.acquire()  # the only place of the window is taken
    bucket.done()  # and comes back 0.2 s from now
    first = asyncio.create_task(bucket.acquire())
    second = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0.01)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    await asyncio.wait_for(second, 2.0)


async def climb_until_a_probe(bucket: AdaptiveBucket) -> float:
    """Sends until the limit is raised once; returns the seconds that took."""
    started, increases = time.monotonic(), bucket.stats.increases
    while bucket.stats.increases == increases:
        await release_times(bucket, 1, waiters=1)
        await asyncio.sleep(0.005)
    return time.monotonic() - started


async def test_each_failed_probe_doubles_the_quiet_spell_before_the_next_up_to_a_cap():
    bucket = AdaptiveBucket(20, 0.05, hold_windows=2, increase_fraction=0.25, max_hold_windows=6)
    bucket.throttled(0.0)  # the first 429 at the configured limit is no probe
    assert bucket.hold == pytest.approx(0.1) and bucket.stats.failed_probes == 0
    for expected_hold in (0.2, 0.3, 0.3):  # 2 windows, 4, then capped at 6
        assert await climb_until_a_probe(bucket) >= bucket.hold
        bucket.throttled(0.0)  # the server refused the raised limit
        assert bucket.hold == pytest.approx(expected_hold)
    assert bucket.stats.failed_probes == 3
    await release_times(bucket, 200)
    assert bucket.limit == 20 and bucket.hold == pytest.approx(0.1)  # back at the configured limit: the spell resets


async def test_waiters_joining_the_queue_do_not_reset_the_timer():
    """One timer serves the head of the queue; a thousand waiters must not cost a thousand timers."""
    loop = asyncio.get_running_loop()
    timers_set = 0
    call_at = loop.call_at

    def counting_call_at(*args, **kwargs):
        nonlocal timers_set
        timers_set += 1
        return call_at(*args, **kwargs)

    bucket = AdaptiveBucket(10, 1.0)
    loop.call_at = counting_call_at  # type: ignore[method-assign]
    try:
        waiters = [asyncio.create_task(bucket.acquire()) for _ in range(200)]
        await asyncio.sleep(0.05)
        assert sum(waiter.done() for waiter in waiters) == 5  # the bucket's catch-up tokens
        assert timers_set <= 2
    finally:
        loop.call_at = call_at  # type: ignore[method-assign]
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
