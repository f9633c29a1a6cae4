"""Socket.IO's Redis message queue with bounded publishing.

python-socketio's RedisManager publishes and listens on one client made from one set of
options: without a socket timeout a hung Redis holds every emit (and the send that made
it) for as long as it hangs; with one, its idle listener would time out every few
seconds. Here publishing uses FORUM_REDIS_TIMEOUT and the listener blocks. A publish
that fails (after one reconnect) pauses publishing for the same time, so a send emits
to this process's sockets at once; the other processes' clients catch up at their next
`join {since}`, as after a Redis restart.
"""

from __future__ import annotations

import time
from typing import Any

import redis
import socketio

from .config import redis_client_options


class BoundedRedisManager(socketio.RedisManager):  # type: ignore[misc]
    """A RedisManager whose publishing gives up within the timeout; listening blocks."""

    def __init__(self, url: str, channel: str, timeout: float) -> None:
        options = redis_client_options({"FORUM_REDIS_TIMEOUT": timeout})
        super().__init__(url, channel=channel, redis_options=options)
        self.timeout = timeout
        self.paused_until = 0.0

    def _redis_connect(self) -> None:
        super()._redis_connect()  # self.redis: the publishing client, with timeouts
        listener = redis.Redis.from_url(
            self.redis_url, socket_connect_timeout=self.timeout, socket_keepalive=True
        )
        self.pubsub = listener.pubsub(ignore_subscribe_messages=True)

    def _publish(self, data: Any) -> Any:
        if time.monotonic() < self.paused_until:
            return None  # Redis failed a moment ago: don't wait on it again
        for attempt in (1, 2):  # a second try on a fresh connection (Redis restarted)
            try:
                if not self.connected:  # type: ignore[has-type]
                    self._redis_connect()
                return self.redis.publish(self.channel, self.json.dumps(data))
            except redis.TimeoutError as exc:  # hung: another try would wait as long
                self._give_up(exc)
                return None
            except Exception as exc:  # noqa: BLE001 — down or restarted
                self.connected = False
                if attempt == 2:
                    self._give_up(exc)
        return None

    def _give_up(self, exc: Exception) -> None:
        self.connected = False
        self.paused_until = time.monotonic() + self.timeout
        self._get_logger().error(
            "Cannot publish to redis (%s); not trying for %s s", type(exc).__name__, self.timeout
        )
