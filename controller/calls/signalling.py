"""Relatives' video calls: who may call when, call state, and the signalling relay.

A call goes through the screen's contract like everything else: the daemon sends the
screen ``ring`` (audited, actor ``invitation:<id>``); the resident's answer comes back
as the screen's ``call_accepted``/``call_declined`` event; either side hanging up
sends ``end_call``. Once accepted, the relative's page makes the WebRTC offer and the
daemon relays offer, answer and ICE candidates between the two WebSockets untouched.
Media flows browser to browser (host candidates on one network, or the configured
STUN/TURN servers); it never passes through the daemon and nothing records it.

A screen never keeps showing a call the daemon does not have: a ring whose ack is lost
(the screen may ring all the same), a hang-up, and a screen that reports a call the
daemon has not got (after a restart, a lost ``end_call``) all end it on the screen,
whose pages are told at once. Until the screen answered that ``end_call`` it counts as
busy, so a late ``end_call`` cannot end the next call.

Across instances (several ``tryggbo serve`` on one PostgreSQL) a call is owned by the
instance whose relative's page started it (it holds that page, the ring timer and the
call's state); the screen's page may be on another instance. The owner publishes the
call's state (:class:`CallChanged`) and its messages for the screen's pages
(:class:`CallScreenMessage`) on the bus, and the instance that holds the screen's page
sends what the page did (:class:`CallOwnerMessage`: accept, decline, hang-up, signals);
the live relay carries them between instances (controller/live_relay.py). An instance
that does not own a call knows it as a :class:`RemoteCall` and does not end it as
stale, unless its owner falls silent (the owner died): a remote call still ringing
after :data:`RING_TIMEOUT_S`, or one the resident hung up on whose end the owner did
not announce within the grace, is ended on the screen by the screen's instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from config.site import Apartment, Site
from devices.clock import Clock
from devices.contract import DEVICE_TYPES

from ..bus_messages import (
    CallChanged,
    CallOwnerMessage,
    CallScreenMessage,
    DeviceEvent,
    TwinChanged,
)
from ..command_bus import CommandBus, CommandError
from ..event_bus import EventBus
from ..store.calls_sql import InvitationRecord
from .invitations import CallStore
from .screen_bridge import ScreenBridge
from .visiting import VisitingHours, parse_windows

log = logging.getLogger(__name__)

#: A call nobody answers ends after this long.
RING_TIMEOUT_S = 60.0
#: The actor of an ``end_call`` for a call the daemon does not have.
STALE_CALL_ACTOR = "calls"

Send = Callable[[dict[str, Any]], None]


class CallRefused(Exception):
    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def to_message(self) -> dict[str, Any]:
        return {"type": "refused", "code": self.code, "message": self.message, **self.details}


@dataclass(eq=False)
class Call:
    id: str
    apartment: str
    device: str
    invitation: str
    relative: Send
    state: str = "ringing"  # ringing, active, ended
    ended_by: str | None = None
    ring_timer: asyncio.TimerHandle | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class RemoteCall:
    """A call another instance owns, as its last :class:`CallChanged` said."""

    id: str
    apartment: str
    device: str
    state: str


class CallService:
    """Active calls (at most one per screen) and the relay between their two sides."""

    def __init__(
        self,
        site: Site,
        store: CallStore,
        commands: CommandBus,
        bus: EventBus,
        bridge: ScreenBridge,
        clock: Clock,
    ) -> None:
        self.site = site
        self.store = store
        self.commands = commands
        self.bus = bus
        self.bridge = bridge
        self.clock = clock
        self.calls: dict[str, Call] = {}
        self._by_device: dict[str, str] = {}
        self._hours_override: dict[str, list[str]] | None = None
        #: invitation id -> the relatives' open sockets (closed at once on revocation)
        self.sockets: dict[str, set[Any]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: screen -> its ``end_call`` in flight (the screen is busy until it is answered)
        self._ending: dict[str, asyncio.Task[None]] = {}
        #: screen -> the call another instance owns with it
        self.remote: dict[str, RemoteCall] = {}
        #: a screen showing a call nobody here has is ended after this long (seconds;
        #: set when other instances may own calls: their news may come after the twin's)
        self.remote_grace_s = 0.0

    # ------------------------------------------------------------------ visiting hours

    def apartment(self, number: str) -> Apartment | None:
        return next((a for a in self.site.apartments if a.number == number), None)

    async def windows(self, apartment: Apartment) -> tuple[list[str], str]:
        """The apartment's visiting windows and where they come from."""
        if self._hours_override is None:
            self._hours_override = await self.store.get_visiting_hours()
        if apartment.number in self._hours_override:
            return self._hours_override[apartment.number], "staff"
        if apartment.visiting_hours is not None:
            return list(apartment.visiting_hours), "site file (apartment)"
        return list(self.site.site.visiting_hours), "site file"

    async def set_windows(self, apartment: Apartment, windows: list[str] | None, by: str) -> None:
        if windows is not None:
            parse_windows(windows)  # VisitingHoursError before anything is stored
        await self.store.set_visiting_hours(apartment.number, windows, by=by, at=self.clock.now())
        self._hours_override = None

    async def visiting(self, apartment: Apartment, now: datetime | None = None) -> dict[str, Any]:
        """``{open, next_open, windows, source}`` for the relative's page."""
        now = now or self.clock.now()
        windows, source = await self.windows(apartment)
        hours = VisitingHours(parse_windows(windows), self.site.zone)
        nxt = hours.next_open(now)
        return {
            "open": hours.is_open(now),
            "next_open": nxt.astimezone(self.site.zone).isoformat() if nxt else None,
            "windows": windows,
            "source": source,
        }

    # ------------------------------------------------------------------ calls

    def call_of_device(self, device: str) -> Call | None:
        call_id = self._by_device.get(device)
        return self.calls.get(call_id) if call_id else None

    def screen_call(self, device: str) -> Call | RemoteCall | None:
        """The call of screen ``device``, this instance's or another's."""
        return self.call_of_device(device) or self.remote.get(device)

    async def hangup_screen(self, device: str) -> None:
        """The resident hung up on the screen's page: end its call, wherever owned."""
        call = self.screen_call(device)
        if isinstance(call, Call):
            await self.hangup(call.id, "resident")
        elif call is not None:
            self.bus.publish(CallOwnerMessage(call.id, device, "hangup"))
            self._unless_ended(call, self.remote_grace_s, "resident")

    def _unless_ended(self, call: RemoteCall, after_s: float, by: str) -> None:
        """End ``call`` on the screen here if its owner has not ended it ``after_s``
        from now (in that state): the owner is gone."""

        def check() -> None:
            if self.remote.get(call.device) == call:
                log.warning("call %s: its instance fell silent; ended on the screen", call.id)
                del self.remote[call.device]
                self._end_on_screen(call.device, call.id, by, STALE_CALL_ACTOR)

        asyncio.get_running_loop().call_later(after_s, check)

    def _to_screen(self, device: str, message: dict[str, Any]) -> None:
        """Send ``message`` to the screen's pages, here or on another instance."""
        if not self.bridge.broadcast(device, message):
            self.bus.publish(CallScreenMessage(device, message))

    async def start(self, invitation: InvitationRecord, relative: Send) -> Call:
        """The relative pressed call: check, ring the screen; :class:`CallRefused`."""
        apartment = self.apartment(invitation.apartment)
        device = self.bridge.screen_of(apartment) if apartment else None
        if apartment is None or device is None:
            raise CallRefused("no_screen", "this apartment has no screen")
        visiting = await self.visiting(apartment)
        if not visiting["open"]:
            raise CallRefused(
                "outside_visiting_hours",
                "calls are possible during visiting hours only",
                next_open=visiting["next_open"],
                windows=visiting["windows"],
            )
        if device in self._by_device or device in self._ending:
            raise CallRefused("busy", "another call with this screen is going on")
        call = Call(
            id=secrets.token_hex(CALL_ID_BYTES),
            apartment=apartment.number,
            device=device,
            invitation=invitation.id,
            relative=relative,
        )
        self.calls[call.id] = call
        self._by_device[device] = call.id
        self._publish(call)  # other instances know it before the screen shows it
        try:
            result = await self.commands.send(
                device,
                "ring",
                {"call_id": call.id, "caller": invitation.relative[:64] or "relative"},
                actor=f"invitation:{invitation.id}",
                reason="video call from a relative",
            )
        except CommandError as exc:
            self._drop(call)
            raise CallRefused("screen_unavailable", str(exc)) from None
        outcome = result.outcome.value
        if outcome != "ok":
            if outcome == "timeout":  # no ack: it may ring, or be answered: end it there
                self._end(call, "ring_failed")
            else:
                self._drop(call)
            raise CallRefused(
                "screen_unavailable",
                f"the screen did not ring ({outcome}"
                + (f": {result.error})" if result.error else ")"),
            )
        loop = asyncio.get_running_loop()
        call.ring_timer = loop.call_later(RING_TIMEOUT_S, self._no_answer, call.id)
        return call

    def _no_answer(self, call_id: str) -> None:
        task = asyncio.create_task(self.hangup(call_id, "no_answer"))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _forget(self, call: Call) -> None:
        self.calls.pop(call.id, None)
        if self._by_device.get(call.device) == call.id:
            del self._by_device[call.device]
        if call.ring_timer is not None:
            call.ring_timer.cancel()

    def _drop(self, call: Call) -> None:
        """Forget a call that never rang (other instances told)."""
        call.state = "ended"
        self._forget(call)
        self._publish(call)

    def relay(self, call_id: str, side: str, data: Any, *, device: str | None = None) -> bool:
        """Pass one signalling message (SDP or ICE candidate) to the other side; from
        the screen side only for a call of that screen (``device``)."""
        call = self.calls.get(call_id)
        if call is None or call.state != "active":
            return False
        if side == "screen" and call.device != device:
            return False
        message = {"type": "signal", "call_id": call_id, "data": data}
        if side == "relative":
            self._to_screen(call.device, message)
        else:
            call.relative(message)
        return True

    def relay_from_screen(self, call_id: str, device: str, data: Any) -> bool:
        """A signalling message from the page of screen ``device``: to the relative,
        here or through the instance that owns the call."""
        if self.relay(call_id, "screen", data, device=device):
            return True
        remote = self.remote.get(device)
        if remote is None or remote.id != call_id or remote.state != "active":
            return False
        self.bus.publish(CallOwnerMessage(call_id, device, "signal", data))
        return True

    async def hangup(self, call_id: str, by: str) -> None:
        """End a call (``by``: relative, resident, no_answer, ...); tells both sides
        and sends the screen ``end_call``."""
        call = self.calls.get(call_id)
        if call is not None:
            await asyncio.shield(self._end(call, by))

    def _end(self, call: Call, by: str) -> asyncio.Future[None]:
        """End ``call``: both sides told, ``end_call`` sent to the screen (awaitable)."""
        if call.state == "ended":
            return _done()
        call.state, call.ended_by = "ended", by
        self._forget(call)
        with contextlib.suppress(Exception):
            call.relative({"type": "ended", "call_id": call.id, "by": by})
        self._publish(call)
        return self._end_on_screen(call.device, call.id, by, f"invitation:{call.invitation}")

    def _end_on_screen(
        self, device: str, call_id: str | None, by: str, actor: str
    ) -> asyncio.Future[None]:
        """Tell the screen's pages the call ended and send the screen ``end_call``, one
        at a time per screen; the screen is busy until it answered (or timed out)."""
        self._to_screen(device, {"type": "ended", "call_id": call_id, "by": by})
        ending = self._ending.get(device)
        if ending is None:
            ending = asyncio.create_task(self._end_call(device, call_id, by, actor))
            self._ending[device] = ending
            ending.add_done_callback(lambda _task: self._ending.pop(device, None))
        return ending

    async def _end_call(self, device: str, call_id: str | None, by: str, actor: str) -> None:
        try:
            await self.commands.send(device, "end_call", actor=actor, reason=f"call ended ({by})")
        except CommandError as exc:
            log.warning("call %s: end_call to %s not sent: %s", call_id, device, exc)

    def _end_stale_call(self, device: str, *, waited: bool = False) -> None:
        """A screen online showing a call the daemon has not got: end it there. (The
        twin as it is now: a bus message may be older than the last hang-up.) With
        other instances, only once :attr:`remote_grace_s` passed without news of it."""
        twin = self.commands.twins.get(device)
        if twin is None or not twin.reachable or device in self._ending:
            return
        if device in self.remote or device in self._by_device:
            return
        shown = getattr(twin.reported, "call", "idle")
        call_id = getattr(twin.reported, "call_id", None)
        if shown not in ("ringing", "active") or not _issued_by_a_daemon(call_id):
            return  # a ring staff sent by hand (the devices API) is theirs to end
        if self.remote_grace_s > 0 and not waited:
            loop = asyncio.get_running_loop()
            loop.call_later(self.remote_grace_s, self._end_stale_call_after_grace, device)
            return
        log.warning("%s shows a %s call the daemon has not got: ended there", device, shown)
        self._end_on_screen(device, call_id, "unknown_call", STALE_CALL_ACTOR)

    def _end_stale_call_after_grace(self, device: str) -> None:
        self._end_stale_call(device, waited=True)

    def _publish(self, call: Call) -> None:
        self.bus.publish(CallChanged(call.id, call.apartment, call.device, call.state))

    def _answered(self, call: Call, kind: str) -> None:
        """The screen accepted or declined ``call`` (its event, or its page elsewhere)."""
        if kind == "call_accepted" and call.state == "ringing":
            call.state = "active"
            if call.ring_timer is not None:
                call.ring_timer.cancel()
            call.relative({"type": "accepted", "call_id": call.id})
            self._publish(call)  # first: other instances know it active at call_start
            self._to_screen(call.device, {"type": "call_start", "call_id": call.id})
        elif kind == "call_declined" and call.state != "ended":
            call.relative({"type": "declined", "call_id": call.id})
            call.state = "ended"
            self._forget(call)
            self._publish(call)

    def _heard_remote(self, msg: CallChanged) -> None:
        """Another instance's call changed (this instance's own are in :attr:`calls`)."""
        if msg.call_id in self.calls:
            return
        known = self.remote.get(msg.device)
        if msg.state == "ended":
            if known is not None and known.id == msg.call_id:
                del self.remote[msg.device]
            return
        call = RemoteCall(msg.call_id, msg.apartment, msg.device, msg.state)
        self.remote[msg.device] = call
        if call.state == "ringing":  # the owner's ring timer, should it die with it
            self._unless_ended(call, RING_TIMEOUT_S + self.remote_grace_s, "no_answer")

    async def _for_owner(self, msg: CallOwnerMessage) -> None:
        """What a screen's page on another instance did about a call of this one."""
        call = self.calls.get(msg.call_id)
        if call is None or call.device != msg.device:
            return
        if msg.kind == "signal":
            self.relay(call.id, "screen", msg.data, device=msg.device)
        elif msg.kind in ("accepted", "declined"):
            self._answered(call, f"call_{msg.kind}")
        elif msg.kind == "hangup":
            await self.hangup(call.id, "resident")

    async def run(self) -> None:
        """Follow the screens' answers (contract events) and their state, and the calls
        of other instances (:class:`CallChanged`, :class:`CallScreenMessage`,
        :class:`CallOwnerMessage`)."""
        kinds = (DeviceEvent, TwinChanged, CallChanged, CallScreenMessage, CallOwnerMessage)
        with self.bus.subscribe(*kinds, queue_size=0) as sub:
            async for msg in sub:
                if isinstance(msg, DeviceEvent):
                    if msg.type not in ("call_accepted", "call_declined"):
                        continue
                    call_id = str(msg.details.get("call_id"))
                    call = self.calls.get(call_id)
                    if call is not None and call.device == msg.device:
                        self._answered(call, msg.type)
                    elif (remote := self.remote.get(msg.device)) and remote.id == call_id:
                        kind = msg.type.removeprefix("call_")  # the owner may not hear it
                        self.bus.publish(CallOwnerMessage(call_id, msg.device, kind))
                elif isinstance(msg, CallChanged):
                    self._heard_remote(msg)
                elif isinstance(msg, CallScreenMessage):
                    self.bridge.broadcast(msg.device, msg.message)
                elif isinstance(msg, CallOwnerMessage):
                    await self._for_owner(msg)
                elif isinstance(msg, TwinChanged):
                    if msg.type not in CALL_TYPES:
                        continue  # a lock or a curtain: no call (2.6 % of ingest CPU)
                    call = self.call_of_device(msg.id)
                    if call is None:
                        self._end_stale_call(msg.id)
                        continue
                    shown = getattr(msg.reported, "call", None)
                    gone = not msg.reachable
                    if gone or (call.state == "active" and shown == "idle"):
                        await self.hangup(call.id, "screen" if not gone else "screen_offline")


#: the device types whose state shows a call (the screen)
CALL_TYPES = frozenset(
    t for t, spec in DEVICE_TYPES.items() if "call" in spec.state_model.model_fields
)


def _done() -> asyncio.Future[None]:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


#: a call id made by the call service: this many random bytes, as hex
CALL_ID_BYTES = 8
_CALL_ID = re.compile(rf"^[0-9a-f]{{{2 * CALL_ID_BYTES}}}$")


def _issued_by_a_daemon(call_id: object) -> bool:
    """Whether ``call_id`` has the form of the call service's ids (this daemon's or one
    from before a restart), not one staff chose for a ``ring`` sent by hand."""
    return isinstance(call_id, str) and _CALL_ID.match(call_id) is not None
