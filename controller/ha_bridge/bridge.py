"""The Home Assistant bridge: one MQTT connection to Home Assistant's broker.

Out: retained discovery configs, each device's state and availability (on every
twin change), and the bridge's own availability: ``online`` only while the controller's
own link to the site's broker is up too (a lost link shows as ``offline`` within
:data:`LINK_POLL_S` of the link noticing it), ``offline`` as its last will.
In: commands on the ``.../set`` and ``.../set_position`` topics, which go through
the command bus exactly like an API command, never to the device directly:

- First the contract's admission rule (:mod:`devices.contract.admission`, the same
  as the devices'): a retained command, which the broker replays on every reconnect
  and restart, is refused and never executed; an empty or oversized one is dropped.

- Home Assistant acts as one Tryggbo user, ``user`` (default ``home-assistant``),
  created by an admin like any person (``tryggbo users add home-assistant --roles
  staff --units A``). Its roles and units now decide what it may do
  (:mod:`controller.auth.acting_for`, the rule of the API and of a schedule's owner);
  a missing or disabled user may do nothing. Unlocking additionally needs ``allow_unlock``.
- The audit records the actor (that user) and the reason ``Home Assistant``, for an
  unlock the configured ``unlock_reason`` (setting ``ha_unlock_reason``, one of the
  site's unlock reasons: every unlock has one; one the site does not accept turns
  unlocking off, logged at start); a refusal is written to the activity log (action
  ``refused``) and nothing is sent.
  Home Assistant sees it at once: the entity's real state is published again (its UI
  snaps back) and the site's "Refused command" event entity fires
  (:func:`~.discovery.refusal_message`).

Home Assistant never gets a login on the site's broker, so it cannot reach a device
around the bus. Bad payloads are logged and dropped; broker trouble is retried with
backoff; nothing here can stop the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiomqtt

from devices.contract import MessageAdmission, Refusal
from devices.contract.admission import RETAINED
from devices.mqtt import BrokerAddress, make_client, reraise_swallowed_cancel

from ..auth.acting_for import refusal, standing_of
from ..bus_messages import TwinChanged
from ..command_bus import CommandError
from ..event_bus import Subscription
from ..store import ActivityRecord, StoreError
from ..unlock_reasons import BadReason, unlock_reason
from .discovery import (
    OFFLINE,
    ONLINE,
    BadCommand,
    HaTopics,
    command_for,
    discovery_configs,
    refusal_message,
    state_messages,
)

if TYPE_CHECKING:
    from ..daemon import Controller

log = logging.getLogger(__name__)
REASON = "Home Assistant"
#: Commands from Home Assistant in flight at once; more are dropped (logged).
MAX_IN_FLIGHT = 32
#: How often the bridge looks whether the controller's site link dropped (the link
#: sets an event when it connects, none when it drops).
LINK_POLL_S = 0.25


@dataclass(frozen=True)
class HaBridgeConfig:
    broker: BrokerAddress
    discovery_prefix: str = "homeassistant"
    user: str = "home-assistant"
    allow_unlock: bool = False
    #: the reason audited with each unlock (controller/unlock_reasons.py)
    unlock_reason: str = "resident request"
    client_id: str | None = None
    backoff_max_s: float = 30.0


@dataclass(frozen=True)
class HaOutcome:
    """What became of one command from Home Assistant (``outcome`` is the command's
    outcome, ``refused`` or ``bad_command``)."""

    device: str
    action: str | None
    outcome: str
    detail: str | None = None


class HaBridge:
    """Run with :meth:`run` (until cancelled); ``outcomes`` reports each command."""

    def __init__(self, controller: Controller, config: HaBridgeConfig) -> None:
        self.ctl = controller
        self.config = config
        self.topics = HaTopics(controller.site.slug, config.discovery_prefix)
        self.connected = asyncio.Event()
        self.outcomes: asyncio.Queue[HaOutcome] = asyncio.Queue(maxsize=1000)
        self._client: aiomqtt.Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.admission = MessageAdmission("Home Assistant bridge")
        #: the unlock reason as audited, or why unlocking is off
        self.unlock_reason: str | None = None
        self._no_unlock = "unlocking from Home Assistant is off (ha_allow_unlock)"
        if config.allow_unlock:
            reasons = controller.site.site.unlock_reasons
            try:
                self.unlock_reason = unlock_reason(reasons, config.unlock_reason, actor=config.user)
            except BadReason as exc:
                self._no_unlock = f"unlocking from Home Assistant is off: ha_unlock_reason: {exc}"
                log.error("%s", self._no_unlock)

    async def run(self) -> None:
        """Stay connected to Home Assistant's broker until cancelled."""
        sub = self.ctl.bus.subscribe(TwinChanged)
        delay = 0.2
        try:
            while True:
                try:
                    await self._session(sub)
                except aiomqtt.MqttError as exc:
                    log.warning("Home Assistant broker %s: %s", self.config.broker.url, exc)
                finally:
                    self.connected.clear()
                    self._client = None
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, self.config.backoff_max_s)
        finally:
            sub.close()
            for task in list(self._tasks):
                task.cancel()

    async def _session(self, sub: Subscription[TwinChanged]) -> None:
        client = make_client(
            self.config.broker,
            identifier=self.config.client_id or f"tryggbo-ha-{self.ctl.site.slug}",
            will_topic=self.topics.bridge_availability,
            persistent=False,
        )
        async with client:
            self._client = client
            reraise_swallowed_cancel()
            for topic in self.topics.command_filters:
                await client.subscribe(topic, qos=1)
            await self.publish_all()
            site_up = await self._show_site_link(client, None)
            self.connected.set()
            log.info("Home Assistant bridge connected to %s", self.config.broker.url)
            loop = asyncio.get_running_loop()
            followers = [
                loop.create_task(self._follow_twins(sub)),
                loop.create_task(self._follow_site_link(client, site_up)),
            ]
            try:
                async for message in client.messages:
                    self._on_command(message)
            finally:
                for follower in followers:
                    follower.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await asyncio.gather(*followers)
                with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                    await client.publish(
                        self.topics.bridge_availability, OFFLINE, qos=1, retain=True, timeout=2
                    )

    async def publish_all(self) -> None:
        """Discovery configs, then every device's availability and state."""
        client = self._client
        if client is None:
            return
        for topic, payload in discovery_configs(self.ctl.site, self.topics).items():
            await client.publish(topic, json.dumps(payload), qos=1, retain=True)
        for twin in self.ctl.twins.all():
            await self._publish_twin(twin.id)

    async def _publish_twin(self, device: str) -> None:
        client, twin = self._client, self.ctl.twins.get(device)
        if client is None or twin is None:
            return
        available = ONLINE if twin.reachability.value == "online" else OFFLINE
        await client.publish(self.topics.availability(device), available, qos=1, retain=True)
        for topic, payload in state_messages(
            self.topics, device, twin.type.value, twin.reported
        ).items():
            await client.publish(topic, payload, qos=1, retain=True)

    async def _show_site_link(self, client: aiomqtt.Client, shown: bool | None) -> bool:
        """Publish the bridge's availability if the site link's state is not ``shown``."""
        up = self.ctl.link.connected.is_set()
        if up != shown:
            state = ONLINE if up else OFFLINE
            await client.publish(self.topics.bridge_availability, state, qos=1, retain=True)
            if shown is not None:
                level = logging.INFO if up else logging.WARNING
                log.log(level, "site broker link changed: Home Assistant sees the bridge %s", state)
        return up

    async def _follow_site_link(self, client: aiomqtt.Client, shown: bool) -> None:
        """Keep the bridge's availability equal to the controller's site link: ``offline``
        within :data:`LINK_POLL_S` of a drop, ``online`` as soon as it connects."""
        link = self.ctl.link.connected
        while True:  # a publish failing ends the task; the session reconnects
            if shown:
                await asyncio.sleep(LINK_POLL_S)  # a drop sets no event: look again
            else:
                await link.wait()
            shown = await self._show_site_link(client, shown)

    async def _follow_twins(self, sub: Subscription[TwinChanged]) -> None:
        while True:  # a publish failing ends the task; the session reconnects
            message = await sub.get()
            await self._publish_twin(message.id)

    def _on_command(self, message: aiomqtt.Message) -> None:
        parsed = self.topics.parse_command(str(message.topic))
        if parsed is None:
            return
        if len(self._tasks) >= MAX_IN_FLIGHT:
            log.warning("Home Assistant sends too many commands: %s dropped", message.topic)
            self._report(HaOutcome(parsed[0], None, "busy", "too many commands in flight"))
            return
        payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        refusal = self.admission.check(bytes(payload), message.retain, str(message.topic))
        text = bytes(payload[:200]).decode("utf-8", "replace")
        task = asyncio.get_running_loop().create_task(self._command(*parsed, text, refusal))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _report(self, outcome: HaOutcome) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.outcomes.put_nowait(outcome)

    async def _command(
        self, device: str, entity: str, leaf: str, text: str, admission: Refusal | None
    ) -> None:
        twin = self.ctl.twins.get(device)
        if twin is None:
            log.warning("Home Assistant command for unknown device %r dropped", device)
            self._report(HaOutcome(device, None, "bad_command", "unknown device"))
            return
        if admission is not None and admission.reason != RETAINED:
            self._report(HaOutcome(device, None, "bad_command", admission.reason))
            return  # logged by the admission (rate-limited)
        try:
            action, args = command_for(twin.type.value, entity, leaf, text)
        except BadCommand as exc:
            if admission is not None:  # retained: refused whatever it says
                await self._refuse(device, f"{entity}/{leaf}", RETAINED, admission.detail)
                return
            log.warning("Home Assistant command to %s dropped: %s", device, exc)
            self._report(HaOutcome(device, None, "bad_command", str(exc)))
            return
        if admission is not None:
            await self._refuse(device, action, RETAINED, admission.detail)
            return
        refusal = await self._refusal(device, action)
        if refusal is not None:
            log.warning("Home Assistant may not %s %s: %s", action, device, refusal[1])
            await self._refuse(device, action, *refusal)
            return
        try:
            reason = self.unlock_reason if action == "unlock" else REASON
            result = await self.ctl.commands.send(
                device, action, args, actor=self.config.user, reason=reason
            )
        except (CommandError, StoreError) as exc:
            log.warning("Home Assistant command %s to %s not sent: %s", action, device, exc)
            self._report(HaOutcome(device, action, "not_sent", str(exc)))
            return
        self._report(HaOutcome(device, action, result.outcome.value, result.error))
        with contextlib.suppress(aiomqtt.MqttError):
            await self._publish_twin(device)  # HA shows the real state, not its wish

    async def _refusal(self, device: str, action: str) -> tuple[str, str] | None:
        """``(code, why)`` the Home Assistant user may not send ``action`` to ``device``
        (``code`` from :data:`~.discovery.REFUSAL_TYPES`), None if it may."""
        if action == "unlock" and self.unlock_reason is None:
            return "unlock_off", self._no_unlock
        standing = await standing_of(self.ctl.store, self.config.user)
        refused = refusal(standing, device, self.ctl.twins.apartment(device), action)
        return None if refused is None else (refused.code, refused.why)

    async def _refuse(self, device: str, action: str, code: str, why: str) -> None:
        """Nothing is sent: the activity log, the outcome, and Home Assistant are told."""
        await self._note_refusal(device, action, code, why)
        self._report(HaOutcome(device, action, "refused", why))
        client = self._client
        if client is None:
            return
        with contextlib.suppress(aiomqtt.MqttError):
            message = refusal_message(code, device, action, why)
            await client.publish(self.topics.refusals, message, qos=1, retain=False)
            await self._publish_twin(device)  # HA's optimistic UI snaps back to the truth

    async def _note_refusal(self, device: str, action: str, code: str, why: str) -> None:
        apartment = self.ctl.twins.apartment(device)
        try:
            await self.ctl.store.add_activity(
                ActivityRecord(
                    ts=self.ctl.clock.now(),
                    actor=self.config.user,
                    action="refused",
                    subject=f"{REASON}: {action} {device}",
                    apartment=apartment.number if apartment else None,
                    reason=why,
                    outcome="forbidden",
                    details={
                        "via": "home_assistant",
                        "device": device,
                        "action": action,
                        "refusal": code,
                    },
                )
            )
        except StoreError as exc:
            log.warning("refusal of %s %s not logged: %s", action, device, exc)
