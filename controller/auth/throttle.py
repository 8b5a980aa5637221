"""Slowing down and stopping password guessing.

Per account (in the store): after :attr:`LoginPolicy.slow_after` consecutive failures
every attempt waits, longer each time; after :attr:`LoginPolicy.lock_after` the account
is locked for :attr:`LoginPolicy.lock_for`, and each further failure locks it again.
Usernames that do not exist get the same treatment in memory, so the answers do not
tell which accounts exist. Per client address (in memory): at most
:attr:`LoginPolicy.ip_max_failures` failures within :attr:`LoginPolicy.ip_window`.

Both count an attempt *before* its password is checked (and take it back when it
succeeds), so concurrent guesses cannot all be checked against the account while
the count still says "not locked"; what will be refused is refused before hashing.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class LoginPolicy:
    slow_after: int = 3
    delay_base_s: float = 0.5
    delay_max_s: float = 4.0
    lock_after: int = 10
    lock_for: timedelta = timedelta(minutes=15)
    ip_max_failures: int = 50
    ip_window: timedelta = timedelta(minutes=15)

    def delay_s(self, failures: int) -> float:
        """How long an attempt waits after ``failures`` consecutive failures."""
        if failures < self.slow_after:
            return 0.0
        return min(self.delay_base_s * 2 ** (failures - self.slow_after), self.delay_max_s)


@dataclass
class _Ghost:
    failures: int = 0
    locked_until: datetime | None = None


@dataclass
class GhostAccounts:
    """Failure counts of usernames that do not exist (bounded, oldest forgotten),
    counted like real accounts: before the (dummy) password check."""

    capacity: int = 10_000
    _known: OrderedDict[str, _Ghost] = field(default_factory=OrderedDict)

    def get(self, username: str) -> tuple[int, datetime | None]:
        ghost = self._known.get(username)
        return (ghost.failures, ghost.locked_until) if ghost else (0, None)

    def count_attempt(self, username: str, now: datetime, policy: LoginPolicy) -> int | None:
        """Count an attempt as a failure; the count, or None (nothing counted) while
        locked. The attempt that reaches ``lock_after`` locks."""
        ghost = self._known.pop(username, None) or _Ghost()
        self._known[username] = ghost
        while len(self._known) > self.capacity:
            self._known.popitem(last=False)
        if ghost.locked_until is not None and ghost.locked_until > now:
            return None
        ghost.failures += 1
        if ghost.failures >= policy.lock_after:
            ghost.locked_until = now + policy.lock_for
        return ghost.failures


@dataclass
class AddressThrottle:
    """Sign-in attempts per client address in a sliding window (bounded memory). An
    attempt counts as a failure from the moment it is admitted, before its password
    is checked, and is taken back if it succeeds: concurrent attempts cannot
    overshoot the limit."""

    capacity: int = 10_000
    _failures: OrderedDict[str, deque[datetime]] = field(default_factory=OrderedDict)

    def _recent(self, address: str, now: datetime, policy: LoginPolicy) -> deque[datetime]:
        times = self._failures.pop(address, None) or deque()
        while times and times[0] <= now - policy.ip_window:
            times.popleft()
        self._failures[address] = times
        while len(self._failures) > self.capacity:
            self._failures.popitem(last=False)
        return times

    def admit(self, address: str, now: datetime, policy: LoginPolicy) -> float:
        """0 and the attempt counted, or the seconds until ``address`` may try again."""
        times = self._recent(address, now, policy)
        if len(times) >= policy.ip_max_failures:
            return max(1.0, (times[0] + policy.ip_window - now).total_seconds())
        times.append(now)
        return 0.0

    def take_back(self, address: str, admitted_at: datetime) -> None:
        """Forget an admitted attempt that did not fail (signed in, or refused
        without a password check)."""
        times = self._failures.get(address)
        if times is not None:
            with contextlib.suppress(ValueError):
                times.remove(admitted_at)
