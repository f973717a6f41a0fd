"""A job's audio for its owner: signed links and byte ranges.

A browser's ``<audio>`` element cannot send an API key, so the web app asks for a link that
carries its own signature: the job, its owner and an expiry, signed with the server's secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from audiotext.jobs.errors import AudioTextError, RangeNotSatisfiable

LINK_SECONDS = 6 * 3600
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class InvalidAudioLink(AudioTextError):
    status_code = 401
    code = "invalid_audio_link"


@dataclass(frozen=True)
class AudioLinks:
    secret: bytes

    @classmethod
    def of(cls, secret: bytes | None) -> AudioLinks:
        # Without a configured secret, one per process: links made by one gateway replica
        # are then refused by the others (the chart sets a shared one).
        return cls(secret or secrets.token_bytes(32))

    def token(self, job_id: str, owner: str | None, now: float | None = None) -> str:
        expires = int((now or time.time()) + LINK_SECONDS)
        who = _b64((owner or "").encode())
        return f"{who}.{expires}.{self._sign(job_id, who, expires)}"

    def owner(self, job_id: str, token: str, now: float | None = None) -> str | None:
        """The owner the link was made for; ``InvalidAudioLink`` when it is forged, for
        another job, or expired."""
        who, _, rest = token.partition(".")
        expires, _, signature = rest.partition(".")
        if not expires.isdigit() or not hmac.compare_digest(
            signature, self._sign(job_id, who, int(expires))
        ):
            raise InvalidAudioLink("the audio link is not valid for this job")
        if int(expires) < (now or time.time()):
            raise InvalidAudioLink("the audio link has expired; open the job again")
        owner = base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)).decode()
        return owner or None

    def _sign(self, job_id: str, who: str, expires: int) -> str:
        message = f"audio:{job_id}:{who}:{expires}".encode()
        return _b64(hmac.new(self.secret, message, hashlib.sha256).digest())


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (first, last) byte an HTTP ``Range`` header asks for, or None for the whole
    file (no header, or one this server does not serve, such as several ranges)."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise RangeNotSatisfiable(f"bytes {header.strip()[6:]} are outside the {size} bytes", size)
    return start, end


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
