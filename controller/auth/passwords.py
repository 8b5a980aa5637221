"""Password hashing (argon2id via argon2-cffi); the rules are in :mod:`.password_rules`.

Hashing runs in a worker thread, at most :data:`MAX_PARALLEL_HASHES` at a time, so a
burst of sign-ins neither blocks the event loop nor exhausts memory (64 MiB each).
The slots are shared fairly (:class:`FairSlots`): each caller names whom the hash is
for (the client address), and a freed slot goes to the next of those in turn, so one
address queueing a hundred sign-ins delays another person's by at most one hash.
"""

from __future__ import annotations

import asyncio
import secrets
import weakref
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MAX_PARALLEL_HASHES = 2

_hasher = PasswordHasher()
_dummy_hash: str | None = None
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, FairSlots] = (
    weakref.WeakKeyDictionary()
)


def hash_password(password: str) -> str:
    """An argon2id hash (salted; the parameters are part of the string)."""
    return _hasher.hash(password)


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    #: The hash was made with older parameters: store a fresh one.
    needs_rehash: bool = False


def verify_password(password_hash: str, password: str) -> Verdict:
    """Check ``password`` against a stored hash (constant time inside argon2)."""
    try:
        _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Verdict(False)
    return Verdict(True, _hasher.check_needs_rehash(password_hash))


def dummy_hash() -> str:
    """A hash no password matches: verified for unknown users so they take as long."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(24))
    return _dummy_hash


@dataclass
class FairSlots:
    """At most ``size`` holders at once; waiters are served round-robin by key (the
    key that waited longest without a turn goes first), first come first served
    within a key."""

    size: int
    _busy: int = 0
    #: key -> its waiters, in turn order (a key is re-queued at the end after a turn)
    _waiting: OrderedDict[str, deque[asyncio.Future[None]]] = field(default_factory=OrderedDict)

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        """Hold a slot for ``key`` while the body runs."""
        if self._busy < self.size and not self._waiting:
            self._busy += 1
        else:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(key, deque()).append(waiter)
            try:
                await waiter  # the releaser handed its slot over (``_busy`` unchanged)
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._hand_over()  # handed over just as we were cancelled
                else:
                    self._forget(key, waiter)
                raise
        try:
            yield
        finally:
            self._hand_over()

    def _hand_over(self) -> None:
        """Give a freed slot to the next key in turn, else free it."""
        while self._waiting:
            key, waiters = next(iter(self._waiting.items()))
            waiter = waiters.popleft()
            del self._waiting[key]
            if waiters:
                self._waiting[key] = waiters  # back of the line
            if not waiter.done():
                waiter.set_result(None)
                return
        self._busy -= 1

    def _forget(self, key: str, waiter: asyncio.Future[None]) -> None:
        waiters = self._waiting.get(key)
        if waiters is not None and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._waiting[key]


def hash_slots() -> FairSlots:
    """The hashing slots of the running event loop (one set per loop)."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = FairSlots(MAX_PARALLEL_HASHES)
    return slots


async def verify_async(password_hash: str | None, password: str, *, key: str = "") -> Verdict:
    """:func:`verify_password` in a worker thread, in ``key``'s turn (the client
    address); ``None`` checks against a dummy."""
    async with hash_slots().turn(key):
        target = password_hash if password_hash is not None else dummy_hash()
        verdict = await asyncio.to_thread(verify_password, target, password)
    return verdict if password_hash is not None else Verdict(False)


async def hash_async(password: str, *, key: str = "") -> str:
    """:func:`hash_password` in a worker thread, in ``key``'s turn."""
    async with hash_slots().turn(key):
        return await asyncio.to_thread(hash_password, password)
