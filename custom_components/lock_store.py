"""A Redis lock store whose every change to a conversation's lock is one atomic step.

Rasa's RedisLockStore reads a lock, changes it in Python and writes it back. Two Rasa instances
doing that at once can issue the same ticket twice, or one can delete the lock while the other
has just queued on it (RasaHQ/rasa#9213): then two messages of one subscriber are processed at
the same time, or one fails with "Could not acquire lock". Here each change runs under Redis
WATCH/MULTI and is retried when another instance changed the lock meanwhile, so tickets stay
unique and a lock is deleted only when nobody is queued on it.

endpoints: ``lock_store: {type: custom_components.lock_store.AtomicRedisLockStore, url: …}``
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import WatchError

T = TypeVar("T")
# A lock nobody touched for this long belongs to an instance that died: Redis forgets it.
ABANDONED_AFTER_SECONDS = 3600


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig | None = None, **settings: Any) -> None:
        """Rasa builds custom lock stores from the endpoint config: url is the Redis host."""
        if endpoint_config is not None:
            settings = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs}
        accepted = inspect.signature(RedisLockStore.__init__).parameters
        super().__init__(**{key: value for key, value in settings.items() if key in accepted})

    def _change(self, conversation_id: str, change: Callable[[TicketLock], T]) -> T:
        """Apply ``change`` to the conversation's lock (created if missing) as one atomic step."""
        key = self.key_prefix + conversation_id
        while True:
            with self.red.pipeline() as pipe:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(raw)) if raw else TicketLock(conversation_id)
                    result = change(lock)
                    pipe.multi()
                    if lock.tickets:
                        pipe.set(key, lock.dumps(), ex=ABANDONED_AFTER_SECONDS)
                    else:
                        pipe.delete(key)
                    pipe.execute()
                    return result
                except WatchError:
                    continue  # another instance changed the lock between our read and write

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            ticket: int = self._change(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime))
            return ticket
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        self._change(conversation_id, lambda lock: lock.remove_expired_tickets())

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._change(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number))

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # Removing the ticket deletes the lock in the same step only if no ticket is left.
        self.finish_serving(conversation_id, ticket_number)
