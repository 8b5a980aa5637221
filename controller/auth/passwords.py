"""Password hashing (argon2id via argon2-cffi) and the password rules.

Hashing runs in a worker thread, at most :data:`MAX_PARALLEL_HASHES` at a time, so a
burst of sign-ins neither blocks the event loop nor exhausts memory (64 MiB each).
"""

from __future__ import annotations

import asyncio
import secrets
import weakref
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 256
MAX_PARALLEL_HASHES = 2

_hasher = PasswordHasher()
_dummy_hash: str | None = None
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


class WeakPassword(ValueError):
    """A password that breaks the rules; the message says which."""


def check_password(password: str, username: str = "") -> None:
    """Raise :class:`WeakPassword` unless ``password`` follows the rules."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"the password must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"the password must be at most {MAX_LENGTH} characters")
    if password.strip() != password:
        raise WeakPassword("the password must not start or end with spaces")
    if len(set(password)) < 4:
        raise WeakPassword("the password needs more different characters")
    if username and username.lower() in password.lower():
        raise WeakPassword("the password must not contain the username")


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


def _semaphore() -> asyncio.Semaphore:
    """One semaphore per event loop (a semaphore is bound to its loop)."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(MAX_PARALLEL_HASHES)
    return slots


async def verify_async(password_hash: str | None, password: str) -> Verdict:
    """:func:`verify_password` in a worker thread; ``None`` checks against a dummy."""
    async with _semaphore():
        target = password_hash if password_hash is not None else dummy_hash()
        verdict = await asyncio.to_thread(verify_password, target, password)
    return verdict if password_hash is not None else Verdict(False)


async def hash_async(password: str) -> str:
    """:func:`hash_password` in a worker thread."""
    async with _semaphore():
        return await asyncio.to_thread(hash_password, password)
