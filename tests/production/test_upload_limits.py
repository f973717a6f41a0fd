"""A real gateway process cuts off an oversized upload while it streams, in flat memory."""

from __future__ import annotations

import select
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from audiotext.db.migrate import upgrade

from processes import Gateway, Production, start_gateway

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.s3]

GIGABYTE = 1024**3
CHUNK = 1024 * 1024


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def send_huge_multipart(url: str, size: int, *, chunked: bool) -> tuple[bytes, int]:
    """POST a multipart body of ``size`` bytes, declared up front or sent chunked (length
    unknown until the end); stop as soon as the server answers or hangs up. Returns the
    response's first bytes and how much of the body was sent."""
    parts = urlsplit(url)
    boundary = "b0undary"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="huge.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    request = (
        f"POST /api/v1/job/transcribe HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        + ("Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}")
        + "\r\nConnection: close\r\n\r\n"
    ).encode()
    sent = 0
    chunk = b"\0" * CHUNK
    if chunked:
        head = b"%x\r\n%s\r\n" % (len(head), head)
        chunk = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request + head)
        while sent < size:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += CHUNK
        response = b""
        try:
            while len(response) < 4096:
                data = sock.recv(4096)
                if not data:
                    break
                response += data
        except (ConnectionResetError, TimeoutError):
            pass
    return response, sent


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_a_gigabyte_upload_is_cut_off_near_the_limit_in_flat_memory(
    production: Production, gateways: list[Gateway], chunked: bool
) -> None:
    limit = 10 * 1024 * 1024
    upgrade(production.database_url)  # `api` does not migrate: `audiotext migrate` does
    gateway = start_gateway(production.env(AUDIOTEXT_MAX_UPLOAD_BYTES=str(limit)), command="api")
    gateways.append(gateway)
    pid = gateway.process.pid
    baseline = rss_bytes(pid)
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        response, sent = send_huge_multipart(gateway.url, GIGABYTE, chunked=chunked)
    finally:
        done.set()
        sampler.join()

    assert response.startswith(b"HTTP/1.1 413"), response[:300]
    assert b"limit" in response
    # Refused from its declared length before any of it is read, or cut off near the limit
    # (plus what the kernel's socket buffers hold), never read to the gigabyte.
    assert sent < limit + 64 * CHUNK, f"{sent} bytes were accepted"
    if chunked:
        assert sent >= limit // 2, "refused before the limit was reached"
    assert peak - baseline < 50 * 1024 * 1024, f"the gateway grew by {peak - baseline} bytes"
