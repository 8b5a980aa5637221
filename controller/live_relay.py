"""One live picture across instances: alarm changes stored by another instance of the
site reach this instance's bus, hence its dashboards, screens' pages and metrics; so do
the other instances' command outcomes and calls' messages (their screen's page or the
relative's page may be on this instance), the bus messages of
:data:`controller.live_wire.RELAYED`, sent by the instance that published them.

Why PostgreSQL ``LISTEN``/``NOTIFY`` and not the broker: several instances of a site
always share its PostgreSQL (that is what makes them one site), whatever the broker
(Mosquitto, a NATS cluster without ``$share``); the note is sent inside the transaction
that stores the change (controller/store/live.py), so it is heard exactly when the
change is stored and never for a change rolled back, and no broker ACL or topic is
added. The note carries only ids; the alarm is read from the store, so the relay
pushes what is stored, never a copy.

The relay keeps one connection of its own (``LISTEN`` needs a session) and reconnects
with backoff when it drops (a PostgreSQL restart). Notes sent while it is not listening
are not replayed: a dashboard that reconnects reloads the alarms from the API. A bus
message is sent after it was published here (a command's outcome after its audit line
is committed), on the relay's connection: one this instance publishes while that
connection is down reaches no other instance (counted in ``unsent``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .bus_messages import AlarmChanged
from .event_bus import EventBus, Subscription
from .live_wire import RELAYED, Parts, decode, encode
from .store.alarm_records import AlarmRecord
from .store.live import AlarmNote

log = logging.getLogger(__name__)

#: this instance's messages sent in one transaction at most
SEND_BATCH = 100
#: a send that takes longer is given up (counted ``unsent``), its connection dropped
SEND_TIMEOUT_S = 2.0

#: a note's change as the instance that made it pushed it on its own bus
_PUSHED_AS = {"raise": "raised", "repeat": "repeated", "escalate": "escalated", "note": "noted"}
#: staff actions: pushed as the state they lead to
_BY_STATE = {"ack", "on_site", "close"}


def pushed_change(note: AlarmNote, alarm: AlarmRecord) -> str:
    """The change name the making instance pushed for ``note`` (the bus's vocabulary)."""
    if note.change in _BY_STATE:
        return alarm.state
    return _PUSHED_AS.get(note.change, note.change)


class LiveRelay:
    """Listens on the site's channel; each other instance's alarm change, read from the
    store, is published on this instance's bus."""

    def __init__(
        self,
        *,
        dsn: str,
        channel: str,
        instance_id: str,
        read_alarm: Callable[[int], Awaitable[AlarmRecord | None]],
        bus: EventBus,
        retry_max_s: float = 5.0,
    ) -> None:
        self._dsn = dsn
        self.channel = channel
        self._instance_id = instance_id
        self._read_alarm = read_alarm
        self._bus = bus
        self._retry_max_s = retry_max_s
        self._notes: asyncio.Queue[str] = asyncio.Queue()
        #: set while listening
        self.listening = asyncio.Event()
        #: other instances' changes published on this bus
        self.relayed = 0
        #: this instance's notes not sent (the connection was down or hung)
        self.unsent = 0
        self._parts = Parts()
        #: the messages this relay published (not sent back): their ids while queued
        self._published: set[int] = set()
        self._outgoing: Subscription[Any] = bus.subscribe(*RELAYED.values(), queue_size=0)
        self._conn: Any = None

    async def run(self) -> None:
        """Listen and relay until cancelled; reconnect after any connection loss."""
        import asyncpg  # the postgres extra: only a PostgreSQL store has a relay

        relay = asyncio.create_task(self._relay(), name="live-relay-publish")
        sender = asyncio.create_task(self._send_all(), name="live-relay-send")
        try:
            delay = 0.2
            while True:
                try:
                    await self._listen(asyncpg.connect)
                    delay = 0.2
                except Exception as exc:  # whatever it is, the daemon must not stop for it
                    log.warning("live relay: not listening (%r); again in %.1f s", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._retry_max_s)
        finally:
            relay.cancel()
            sender.cancel()
            await asyncio.gather(relay, sender, return_exceptions=True)
            self._outgoing.close()

    async def _listen(self, connect: Callable[..., Awaitable[Any]]) -> None:
        conn = await connect(self._dsn, timeout=10)
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _c: lost.set())
            await conn.add_listener(self.channel, self._heard)
            self._conn = conn
            self.listening.set()
            log.info("live relay: listening on %s", self.channel)
            await lost.wait()
            log.warning("live relay: connection lost")
        finally:
            self._conn = None
            self.listening.clear()
            if not conn.is_closed():
                conn.terminate()

    def _heard(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._notes.put_nowait(payload)

    async def _relay(self) -> None:
        while True:
            payload = await self._notes.get()
            try:
                await self._relay_one(payload)
            except Exception as exc:  # one bad note or a store failure: the next one
                log.warning("live relay: note %.100r not relayed: %r", payload, exc)

    async def _send_all(self) -> None:
        """Send this instance's relayed kinds of bus messages to the other instances
        (those waiting together, in one transaction)."""
        while True:
            batch = [await self._outgoing.get(), *self._outgoing.drain(SEND_BATCH - 1)]
            payloads: list[str] = []
            for msg in batch:
                if id(msg) in self._published:
                    self._published.discard(id(msg))
                    continue  # came from another instance
                if getattr(msg, "origin", None) is not None:
                    continue
                try:
                    payloads.extend(encode(msg, self._instance_id))
                except (TypeError, ValueError) as exc:  # a bug; the next messages go on
                    self.unsent += 1
                    log.error("live relay: %s not encodable: %r", type(msg).__name__, exc)
            if not payloads:
                continue
            try:
                await self._send(payloads)
            except Exception as exc:  # down or failing: the others miss these
                self.unsent += len(payloads)
                log.warning("live relay: %d notes not sent: %r", len(payloads), exc)

    async def _send(self, payloads: list[str]) -> None:
        conn = self._conn
        if conn is None:
            raise ConnectionError("not connected")
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S), conn.transaction():
                for payload in payloads:  # the parts of a message in order, together
                    await conn.execute("SELECT pg_notify($1, $2)", self.channel, payload)
        except TimeoutError:
            conn.terminate()  # a connection that hangs: listen again on a new one
            raise

    async def _relay_one(self, payload: str) -> None:
        if '"k"' in payload or '"part"' in payload:
            self._relay_message(payload)
            return
        note = AlarmNote.parse(payload)
        if note is None:
            log.warning("live relay: not an alarm note: %.100r", payload)
            return
        if note.origin == self._instance_id:
            return  # this instance pushed it already
        alarm = await self._read_alarm(note.alarm_id)
        if alarm is None:
            return
        self._bus.publish(AlarmChanged(alarm, pushed_change(note, alarm)))
        self.relayed += 1

    def _relay_message(self, payload: str) -> None:
        data = json.loads(payload)
        if not isinstance(data, dict) or data.get("o") == self._instance_id:
            return  # this instance published it already
        if "part" in data:
            data = self._parts.add(data)
            if data is None:
                return
        _origin, msg = decode(data)
        self._published.add(id(msg))
        self._bus.publish(msg)
        self.relayed += 1
