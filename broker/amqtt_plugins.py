"""amqtt 0.12.1 plugins that close gaps in its own auth and ACL plugins; loaded by dotted path."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from amqtt.plugins.base import BaseAuthPlugin
from amqtt.plugins.topic_checking import TopicAccessControlListPlugin
from amqtt.session import Session

from broker.acl import client_id_allowed, topic_matches


class TopicAclPlugin(TopicAccessControlListPlugin):  # type: ignore[misc]  # amqtt has no hints
    """amqtt's topic ACL plugin with the subscribe and receive maps its Config lacks.

    In 0.12.1 the dataclass knows only `publish_acl` and the deprecated `acl`, so a
    `subscribe_acl` key fails to load and a receive ACL cannot be given at all. Checking
    receivers matters: a client may resume another client id's persistent session.
    """

    @dataclass
    class Config:
        """Topic filters per user name for each action.

        A user missing from a map may do nothing; a map left out (or an empty publish map)
        leaves that action unchecked, as amqtt's own plugin does.
        """

        publish_acl: dict[str, list[str]] | None = None
        subscribe_acl: dict[str, list[str]] | None = None
        receive_acl: dict[str, list[str]] | None = None


class SessionGuardPlugin(BaseAuthPlugin):  # type: ignore[misc]  # amqtt has no hints
    """Refuse a CONNECT reaching past its user's ACL or using another principal's client id.

    With `bind_client_ids` a client id must be the user name or start with `{user}@`
    (broker.acl.client_id_allowed); broker.amqtt_identity.GuardedBroker runs this check before
    amqtt acts on the client id. amqtt publishes a Last Will without asking any topic plugin,
    so a Will outside the user's publish ACL is refused here. A persistent session (clean
    session off) keeps the subscriptions and queued messages of whoever made it, so it may be
    resumed only by the same user name.
    """

    @dataclass
    class Config:
        """Publish filters per user name (the topic ACL plugin's map); whether client ids are bound."""

        publish_acl: dict[str, list[str]] = field(default_factory=dict)
        bind_client_ids: bool = False

    def __init__(self, context: Any) -> None:
        """Start with no known session owners."""
        super().__init__(context)
        self._owners: dict[str, str | None] = {}

    async def authenticate(self, *, session: Session) -> bool | None:
        """False for a forbidden Will or a foreign session; None (no opinion) otherwise."""
        if session is None:
            return None
        user = session.username
        if self.config.bind_client_ids and not client_id_allowed(user, session.client_id or ""):
            self.context.logger.warning(
                "refused %s: client id %r is not its own (use %s or %s@...)",
                user, session.client_id, user, user,
            )
            return False
        owner = self._owners.get(session.client_id or "", user)
        if not session.clean_session and owner != user:
            self.context.logger.warning(
                "refused %s: client id %r holds a session of %s", user, session.client_id, owner
            )
            session.username = owner  # amqtt wrote the intruder's name into the stored session
            return False
        if session.will_flag and not self._may_publish(user, session.will_topic or ""):
            self.context.logger.warning(
                "refused %s: Last Will on %r is outside its publish ACL", user, session.will_topic
            )
            return False
        return None

    async def on_broker_client_connected(self, *, client_id: str, client_session: Session) -> None:
        """Remember who owns a persistent session once its client is authenticated."""
        if client_session.clean_session:
            self._owners.pop(client_id, None)
        else:
            self._owners[client_id] = client_session.username

    def _may_publish(self, user: str | None, topic: str) -> bool:
        if not topic or "+" in topic or "#" in topic or topic.startswith("$"):
            return False
        allowed = self.config.publish_acl.get(user or "", [])
        return any(topic_matches(topic_filter, topic) for topic_filter in allowed)
