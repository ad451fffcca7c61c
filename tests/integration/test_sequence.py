"""The change sequence hands out consecutive numbers, once each, inside the caller's transaction."""

from __future__ import annotations

import asyncio

from tortoise.transactions import in_transaction

from sync import sequence


async def _start() -> int:
    """The first number the next allocation gets (migrations number the rows they seed)."""
    async with in_transaction() as conn:
        return await sequence.current(conn) + 1


async def test_allocations_are_consecutive_and_never_reused(db: str) -> None:
    start = await _start()
    async with in_transaction() as conn:
        first = await sequence.allocate(conn, 5)
        second = await sequence.allocate(conn, 1)
    assert (first, second) == (start, start + 5)
    async with in_transaction() as conn:
        assert await sequence.current(conn) == start + 5


async def test_concurrent_writers_get_disjoint_ranges(db: str) -> None:
    start = await _start()

    async def take() -> range:
        async with in_transaction() as conn:
            start = await sequence.allocate(conn, 10)
            return range(start, start + 10)

    ranges = await asyncio.gather(*(take() for _ in range(8)))
    numbers = sorted(n for r in ranges for n in r)
    assert numbers == list(range(start, start + 80))


async def test_a_rolled_back_allocation_is_given_out_again(db: str) -> None:
    start = await _start()
    try:
        async with in_transaction() as conn:
            await sequence.allocate(conn, 3)
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    async with in_transaction() as conn:
        assert await sequence.allocate(conn, 1) == start
