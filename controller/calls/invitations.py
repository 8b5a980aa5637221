"""Invitation links for relatives: ``{id}.{expires}.{signature}``.

The signature is an HMAC-SHA256 (key kept in the store, made on first use) over the
invitation id, its apartment and its expiry, so a link cannot be forged or moved to
another resident. Every use also reads the stored invitation: revoking it (or its
expiry passing) refuses the very next request.

Refused links count against the client address (the sign-in's
:class:`~controller.auth.throttle.AddressThrottle`): after
:data:`LINK_POLICY` ``.ip_max_failures`` refusals within its window, that address
gets ``throttled`` (429) until the window has passed, valid link or not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from devices.clock import Clock

from ..auth.throttle import AddressThrottle, LoginPolicy
from ..store.calls_sql import InvitationRecord

MAX_VALID_DAYS = 90
#: Refused link uses allowed per client address and window.
LINK_POLICY = LoginPolicy(ip_max_failures=20, ip_window=timedelta(minutes=15))


class CallStore(Protocol):
    """What the calls need of the store (:class:`~controller.store.calls_sql.CallsMixin`)."""

    async def call_signing_key(self, now: datetime) -> bytes: ...
    async def add_invitation(self, record: InvitationRecord) -> None: ...
    async def get_invitation(self, invitation_id: str) -> InvitationRecord | None: ...
    async def list_invitations(self, apartment: str | None = None) -> list[InvitationRecord]: ...
    async def revoke_invitation(
        self, invitation_id: str, *, by: str, at: datetime
    ) -> InvitationRecord | None: ...
    async def get_visiting_hours(self) -> dict[str, list[str]]: ...
    async def set_visiting_hours(
        self, apartment: str, windows: list[str] | None, *, by: str, at: datetime
    ) -> None: ...


@dataclass(frozen=True)
class InvitationRefused(Exception):
    """A link that does not admit its holder: ``code`` is invalid, expired, revoked or
    ``throttled`` (too many refusals from the address)."""

    code: str
    message: str

    @property
    def status(self) -> int:
        if self.code == "throttled":
            return 429
        return 401 if self.code == "invitation_invalid" else 410


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Invitations:
    """Make, check, list and revoke invitation links."""

    def __init__(self, store: CallStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._key: bytes | None = None
        self.addresses = AddressThrottle()

    async def _signing_key(self) -> bytes:
        if self._key is None:
            self._key = await self.store.call_signing_key(self.clock.now())
        return self._key

    async def _sign(self, invitation_id: str, apartment: str, expires: int) -> str:
        message = f"{invitation_id}.{apartment}.{expires}".encode()
        return _b64(hmac.new(await self._signing_key(), message, hashlib.sha256).digest())

    async def create(
        self, *, apartment: str, resident: str, relative: str, by: str, valid_days: float
    ) -> tuple[str, InvitationRecord]:
        """A new invitation and its link token (shown once; only the id is stored)."""
        now = self.clock.now()
        expires_at = (now + timedelta(days=valid_days)).replace(microsecond=0)
        record = InvitationRecord(
            id=secrets.token_urlsafe(9),
            apartment=apartment,
            resident=resident,
            relative=relative,
            created_by=by,
            created_at=now,
            expires_at=expires_at,
        )
        await self.store.add_invitation(record)
        expires = int(expires_at.timestamp())
        return f"{record.id}.{expires}.{await self._sign(record.id, apartment, expires)}", record

    async def check(self, token: str, address: str = "") -> InvitationRecord:
        """The invitation a link token stands for, if it is genuine, unexpired and not
        revoked; :class:`InvitationRefused` otherwise (refusals count per ``address``)."""
        now = self.clock.now()
        wait = self.addresses.admit(address, now, LINK_POLICY)  # counted until it passes
        if wait:
            raise InvitationRefused(
                "throttled", f"too many refused links from here; try again in {wait:.0f} s"
            )
        record = await self._check(token)
        self.addresses.take_back(address, now)
        return record

    async def _check(self, token: str) -> InvitationRecord:
        parts = token.split(".")
        invalid = InvitationRefused("invitation_invalid", "this link is not valid")
        if len(parts) != 3 or not parts[1].isdigit() or len(token) > 200:
            raise invalid
        invitation_id, expires, signature = parts
        record = await self.store.get_invitation(invitation_id)
        if record is None or int(record.expires_at.timestamp()) != int(expires):
            raise invalid
        wanted = await self._sign(invitation_id, record.apartment, int(expires))
        if not hmac.compare_digest(wanted, signature):
            raise invalid
        if record.revoked_at is not None:
            raise InvitationRefused("invitation_revoked", "this link has been withdrawn by staff")
        if self.clock.now() >= record.expires_at:
            raise InvitationRefused("invitation_expired", "this link has expired")
        return record
