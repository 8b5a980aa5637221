"""The embedded demo broker with the site's topic ACL (imports amqtt: demo only).

The rules are Mosquitto's (:func:`controller.ops.brokers.amqtt_acl`), matched with amqtt's
own matcher. They are checked here, synchronously, rather than by an amqtt topic
plugin: amqtt awaits its plugins inside its loop over the subscriptions, so a client
subscribing meanwhile raised "dictionary changed size during iteration" and the
message was lost for the remaining subscribers (seen at every demo start).
"""

from __future__ import annotations

from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.topic_checking import TopicAccessControlListPlugin
from amqtt.session import Session

_RULES = {Action.PUBLISH: "publish", Action.SUBSCRIBE: "subscribe", Action.RECEIVE: "receive"}


class SiteAclBroker(Broker):
    """amqtt's broker; a login may publish, subscribe and receive only what its rules
    name (a login without a rule of that kind: nothing)."""

    def __init__(self, config: dict[str, Any], acl: dict[str, dict[str, list[str]]]) -> None:
        super().__init__(config)
        self.acl = acl

    async def _topic_filtering(self, session: Session, topic: str, action: Action) -> bool:
        allowed = self.acl[_RULES[action]].get(session.username or "", [])
        return any(TopicAccessControlListPlugin.topic_ac(topic, rule) for rule in allowed)
