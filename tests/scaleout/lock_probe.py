"""Run under .venv-rasa: two processes (two "Rasa instances") lock the same conversation many
times at once through a lock store, each doing a read-sleep-write on a shared counter inside
the lock. Prints JSON: how many increments were lost and how many lock errors happened.

Usage: lock_probe.py STORE_CLASS REDIS_DB ROUNDS
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import sys
import uuid

import redis


def store_class(name: str) -> type:
    if name == "atomic":
        from custom_components.lock_store import AtomicRedisLockStore

        return AtomicRedisLockStore
    from rasa.core.lock_store import RedisLockStore

    return RedisLockStore


def worker(
    name: str, db: int, rounds: int, conversation: str, counter: str, start: object, out: object
) -> None:
    store = store_class(name)(host="127.0.0.1", port=6379, db=db)
    shared = redis.Redis(host="127.0.0.1", port=6379, db=db)
    errors = 0

    async def one() -> None:
        nonlocal errors
        try:
            async with store.lock(conversation, lock_lifetime=30, wait_time_in_seconds=0.002):
                value = int(shared.get(counter) or 0)
                await asyncio.sleep(0.001)
                shared.set(counter, value + 1)
        except Exception:  # a LockError is what the race produces
            errors += 1

    async def run() -> None:
        for _ in range(rounds):
            await one()

    start.wait()  # type: ignore[attr-defined]
    asyncio.run(run())
    out.put(errors)  # type: ignore[attr-defined]


def main() -> None:
    name, db, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    conversation, counter = f"probe-{uuid.uuid4().hex}", f"probe-counter-{uuid.uuid4().hex}"
    start, out = multiprocessing.Barrier(2), multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=worker, args=(name, db, rounds, conversation, counter, start, out))
        for _ in range(2)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(300)
    errors = sum(out.get(timeout=5) for _ in workers)
    shared = redis.Redis(host="127.0.0.1", port=6379, db=db)
    done = int(shared.get(counter) or 0)
    left = shared.exists(f"lock:{conversation}") + len(shared.keys(f"*{conversation}"))
    shared.delete(counter)
    print(
        json.dumps(
            {
                "store": name,
                "expected": 2 * rounds,
                "counted": done,
                "lock_errors": errors,
                "locks_left": left,
            }
        )
    )


if __name__ == "__main__":
    main()
