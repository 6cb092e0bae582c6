"""Connections that go only to addresses the address policy (``palette.addresses``) admitted.

The check happens in the connection step itself: the host is resolved once, every answer is
checked, and the socket connects to one of those checked addresses, never to the name again. A
name that answered with a public address when it was saved and answers 169.254.169.254 now (DNS
rebinding) is therefore refused before a single packet goes to it. TLS still verifies the name.

Through a proxy the proxy connects, not us: the name is checked beforehand (its own rules, and
its addresses when this server can resolve it), which is the best that can be done there.
"""

from __future__ import annotations

import socket
import sys
from typing import Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from requests.utils import select_proxy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection

from . import addresses


class _CheckedConnection:
    """Mixin for urllib3 connections: ``_new_conn`` resolves, checks, and connects to a checked address."""

    allowed_networks: tuple[addresses.Network, ...] = ()

    def _new_conn(self) -> socket.socket:
        try:
            targets = addresses.resolve_checked(
                self._dns_host, self.port, self.allowed_networks, family=connection.allowed_gai_family()
            )
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        error: OSError | None = None
        for address in targets:  # in the resolver's order, as urllib3 itself would try them
            try:
                sock = connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as exc:
                error = exc
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        if isinstance(error, socket.timeout):
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from error
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error


class GuardedAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose direct connections go only to admitted addresses (see the module)."""

    def __init__(self, allowed_networks: Any = (), **kwargs: Any):
        self.allowed_networks = addresses.parse_networks(allowed_networks)
        attrs = {"allowed_networks": self.allowed_networks}
        http_conn = type("CheckedHTTPConnection", (_CheckedConnection, HTTPConnection), attrs)
        https_conn = type("CheckedHTTPSConnection", (_CheckedConnection, HTTPSConnection), attrs)
        self._pool_classes = {
            "http": type("CheckedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type(
                "CheckedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}
            ),
        }
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        # Only the direct pool manager: proxy managers connect to the proxy, checked in send().
        self.poolmanager.pool_classes_by_scheme = self._pool_classes

    def send(self, request: Any, *args: Any, proxies: Any = None, **kwargs: Any) -> Any:
        if proxies and select_proxy(request.url, proxies):
            parts = urlsplit(request.url)
            host = parts.hostname or ""
            try:
                addresses.resolve_checked(
                    host, parts.port or (443 if parts.scheme == "https" else 80), self.allowed_networks
                )
            except socket.gaierror:
                addresses.check_host(host, self.allowed_networks)  # only the proxy can resolve it
        return super().send(request, *args, proxies=proxies, **kwargs)
