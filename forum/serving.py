"""What sits between the HTTP server and the app: proxies, security headers, TCP_NODELAY.

- `wrap_wsgi` puts two WSGI layers around the app (outside Flask-SocketIO's
  middleware, so Engine.IO's responses get them too): `ProxyFix` for the
  configured number of proxies, then `ForwardedHeaders`, which removes every
  `X-Forwarded-*` header before the app and Engine.IO see the request (Engine.IO's
  same-origin check would otherwise believe an `X-Forwarded-Host` sent by anyone),
  and `SecurityHeaders`, which gives Socket.IO's polling responses the same headers
  as the pages.
- `NoDelayRequestHandler` is the embedded Werkzeug server's handler: TCP_NODELAY on
  every connection (small Socket.IO frames otherwise wait ~40 ms for Nagle's
  algorithm) and a `Server` header without versions. gunicorn sets TCP_NODELAY on
  its listening socket, which accepted sockets inherit.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.serving import WSGIRequestHandler

SERVER_NAME = "Dialogforum"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
FORWARDED = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
    "HTTP_FORWARDED",
)


def set_nodelay(sock: Any) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # a Unix socket has no Nagle to turn off
        pass


class NoDelayRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler with TCP_NODELAY and no versions in the Server header."""

    server_version = SERVER_NAME
    sys_version = ""

    def setup(self) -> None:
        set_nodelay(self.request)
        super().setup()

    def version_string(self) -> str:
        return SERVER_NAME


class ForwardedHeaders:
    """Drop X-Forwarded-* and Forwarded: only ProxyFix (outside this layer) may use them."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        for key in FORWARDED:
            environ.pop(key, None)
        return self.app(environ, start_response)


class SecurityHeaders:
    """Add the pages' security headers to any response that lacks them (Socket.IO polling)."""

    def __init__(self, app: WSGIApp, headers: Callable[[], list[tuple[str, str]]]) -> None:
        self.app = app
        self.headers = headers

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            present = {name.lower() for name, _value in headers}
            extra = [(n, v) for n, v in self.headers() if n.lower() not in present]
            if exc_info is not None:
                return start_response(status, headers + extra, exc_info)
            return start_response(status, headers + extra)

        return self.app(environ, start)


def wrap_wsgi(
    app: WSGIApp, proxy_count: int, headers: Callable[[], list[tuple[str, str]]]
) -> WSGIApp:
    """The layers around the app, outermost first: ProxyFix, header stripping, headers."""
    wrapped: Any = ForwardedHeaders(SecurityHeaders(app, headers))
    if proxy_count > 0:
        # No x_port: the Host header nginx forwards already carries the public port.
        wrapped = ProxyFix(
            wrapped, x_for=proxy_count, x_proto=proxy_count, x_host=proxy_count, x_port=0
        )
    return wrapped
