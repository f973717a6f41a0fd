"""SSRF guard: the server only calls out to public addresses unless configuration allows more."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from audiotext.jobs.errors import InvalidParameter


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url_syntax(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL without credentials; ``InvalidParameter`` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameter("callback_url must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise InvalidParameter("callback_url must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidParameter("callback_url has an invalid port") from None
    return parts.hostname, port


async def check_outbound_url(url: str, *, allow_private: bool) -> list[str]:
    """The addresses to connect to for ``url``, in order, after refusing hosts that resolve
    to loopback, private, link-local or reserved addresses (unless ``allow_private``)."""
    host, port = check_url_syntax(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise InvalidParameter(f"callback_url host {host!r} does not resolve") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses or not (allow_private or all(_is_public(a) for a in addresses)):
        raise InvalidParameter(f"callback_url host {host!r} is not a public address; refused")
    return addresses


@dataclass(frozen=True)
class PinnedRequest:
    """A request to the address that was checked, not to whatever the name resolves to next."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, Any]


def pinned_request(url: str, address: str) -> PinnedRequest:
    """``url`` sent to ``address``: the original host stays in the Host header and, for
    https, in the TLS server name (SNI and the certificate check), so a DNS answer that
    changes after the check (rebinding) cannot redirect the request."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if ":" in address else address
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    extensions: dict[str, Any] = {}
    if parts.scheme == "https":
        extensions["sni_hostname"] = host
    return PinnedRequest(
        url=urlunsplit(parts._replace(netloc=netloc)),
        headers={"Host": parts.netloc.rsplit("@", 1)[-1]},
        extensions=extensions,
    )
