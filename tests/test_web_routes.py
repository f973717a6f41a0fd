"""What the web app asks of the gateway: its page, the options, a job's audio with byte
ranges and signed links, and transcripts with the speakers renamed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from audiotext.config import Settings
from audiotext.engine.base import Segment, Speaker, Transcript, Word
from audiotext.formats import render, with_speaker_names
from audiotext.jobs.errors import RangeNotSatisfiable
from audiotext.services.audio_links import AudioLinks, InvalidAudioLink, byte_range

from helpers import free_port, make_settings, new_key, running_app


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_byte_ranges() -> None:
    assert byte_range(None, 100) is None
    assert byte_range("bytes=0-9", 100) == (0, 9)
    assert byte_range("bytes=90-", 100) == (90, 99)
    assert byte_range("bytes=-10", 100) == (90, 99)
    assert byte_range("bytes=50-500", 100) == (50, 99)
    assert byte_range("bytes=0-1,5-6", 100) is None  # several ranges: the whole file
    assert byte_range("items=0-1", 100) is None
    for bad in ("bytes=100-", "bytes=9-3"):
        with pytest.raises(RangeNotSatisfiable) as caught:
            byte_range(bad, 100)
        assert caught.value.headers == {"Content-Range": "bytes */100"}


def test_audio_links_are_bound_to_job_owner_and_time() -> None:
    links = AudioLinks(b"k" * 32)
    token = links.token("job-1", "owner-a", now=1000)
    assert links.owner("job-1", token, now=1000) == "owner-a"
    assert links.owner("job-1", links.token("job-1", None, now=1000), now=1000) is None
    for job, forged, now in (
        ("job-2", token, 1000),  # another job
        ("job-1", token[:-2] + ("AA" if not token.endswith("AA") else "BB"), 1000),
        ("job-1", "b3duZXItYg." + token.split(".", 1)[1], 1000),  # another owner
        ("job-1", token, 1000 + 7 * 3600),  # expired
        ("job-1", "garbage", 1000),
    ):
        with pytest.raises(InvalidAudioLink):
            links.owner(job, forged, now=now)
    with pytest.raises(InvalidAudioLink):
        AudioLinks(b"other" * 8).owner("job-1", token, now=1000)


def test_speakers_renamed_in_every_format() -> None:
    words = [Word(0.0, 0.5, " Hello", 0.9, speaker="SPEAKER_00")]
    transcript = Transcript(
        language="en",
        duration=2.0,
        segments=[
            Segment(0, 0.0, 0.5, " Hello", words=words, speaker="SPEAKER_00"),
            Segment(1, 1.0, 2.0, " Hi", speaker="SPEAKER_01"),
        ],
        speakers=[Speaker("SPEAKER_00", 0.5), Speaker("SPEAKER_01", 1.0)],
    )
    named = with_speaker_names(transcript, {"SPEAKER_00": "Ada"})
    assert render(named, "txt").splitlines() == ["Ada: Hello", "SPEAKER_01: Hi"]
    assert "<v Ada>" in render(named, "vtt")
    assert " Ada " in render(named, "rttm")
    assert named.segments[0].words[0].speaker == "Ada"
    assert [s.id for s in named.speakers or []] == ["Ada", "SPEAKER_01"]
    assert with_speaker_names(transcript, {}) is transcript


async def test_page_options_and_assets(settings: Settings) -> None:
    async with running_app(settings) as (_, client):
        page = await client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert '<script type="module" src="/app/app.js">' in page.text
        for asset, kind in (("app.js", "javascript"), ("app.css", "text/css")):
            response = await client.get(f"/app/{asset}")
            assert response.status_code == 200 and kind in response.headers["content-type"]
        assert (await client.get("/app/nothing.js")).status_code == 404
        options = (await client.get("/api/v1/options")).json()
        assert options["auth"] is False
        assert options["upload"]["method"] == "multipart"
        assert options["upload"]["max_bytes"] == settings.max_upload_bytes
        assert "flac" in options["upload"]["extensions"]
        assert {"en", "de", "fr", "es"} <= set(options["languages"])
        assert options["output_formats"] == ["txt", "json", "srt", "vtt", "rttm"]


async def test_audio_with_ranges_keys_and_signed_links(tmp_path: Path, jfk: Path) -> None:
    settings = make_settings(tmp_path, auth=True, port=free_port())
    audio = jfk.read_bytes()
    async with running_app(settings) as (_, client):
        # Public without a key: the page, its files and the options; nothing with data.
        for path in ("/", "/app/app.js", "/api/v1/options"):
            assert (await client.get(path)).status_code == 200, path
        assert (await client.get("/api/v1/options")).json()["auth"] is True
        _, alice = await new_key(settings, "alice")
        _, bob = await new_key(settings, "bob")
        files = {"file": ("jfk.flac", audio, "audio/flac")}
        created = await client.post("/api/v1/job/transcribe", files=files, headers=bearer(alice))
        job = created.json()["id"]
        url = f"/api/v1/job/{job}/audio"

        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers=bearer(bob))).status_code == 404
        whole = await client.get(url, headers=bearer(alice))
        assert whole.status_code == 200 and whole.content == audio
        assert whole.headers["content-type"] == "audio/flac"
        assert whole.headers["accept-ranges"] == "bytes"
        part = await client.get(url, headers={**bearer(alice), "Range": "bytes=100-1123"})
        assert part.status_code == 206
        assert part.content == audio[100:1124]
        assert part.headers["content-range"] == f"bytes 100-1123/{len(audio)}"
        assert part.headers["content-length"] == "1024"
        tail = await client.get(url, headers={**bearer(alice), "Range": "bytes=-10"})
        assert tail.content == audio[-10:]
        head = await client.head(url, headers={**bearer(alice), "Range": "bytes=0-9"})
        assert head.status_code == 206 and head.content == b""
        outside = await client.get(url, headers={**bearer(alice), "Range": f"bytes={len(audio)}-"})
        assert outside.status_code == 416
        assert outside.headers["content-range"] == f"bytes */{len(audio)}"
        assert outside.json()["code"] == "range_not_satisfiable"

        # A signed link plays without a key, for its job only; a forged one is refused.
        assert (await client.post(f"/api/v1/job/{job}/audio-link")).status_code == 401
        bobs = await client.post(f"/api/v1/job/{job}/audio-link", headers=bearer(bob))
        assert bobs.status_code == 404
        link = (await client.post(f"/api/v1/job/{job}/audio-link", headers=bearer(alice))).json()
        assert link["url"].startswith(url + "?access=") and link["expires_in"] > 3600
        assert alice not in link["url"]
        signed = await client.get(link["url"], headers={"Range": "bytes=0-3"})
        assert signed.status_code == 206 and signed.content == audio[:4]
        token = link["url"].split("access=")[1]
        other = await client.get(f"/api/v1/job/other/audio?access={token}")
        assert other.status_code == 401 and other.json()["code"] == "invalid_audio_link"
        forged = await client.get(link["url"][:-3] + "abc")
        assert forged.status_code == 401
        # The link is no way into anything else.
        for path in (
            f"/api/v1/job/status/{job}?access={token}",
            f"/api/v1/job/read?access={token}",
        ):
            assert (await client.get(path)).status_code == 401

        # Renamed speakers in a download; a bad map is refused with the reason.
        bad = await client.get(
            f"/api/v1/job/{job}/transcript",
            params={"speaker_names": "[1]"},
            headers=bearer(alice),
        )
        assert bad.status_code == 422
        assert "speaker_names" in bad.json()["detail"]


async def test_audio_link_outlives_a_restart_with_local_storage(tmp_path: Path, jfk: Path) -> None:
    settings = make_settings(tmp_path, port=free_port())
    async with running_app(settings) as (_, client):
        files = {"file": ("jfk.flac", jfk.read_bytes(), "audio/flac")}
        job = (await client.post("/api/v1/job/transcribe", files=files)).json()["id"]
        link = (await client.post(f"/api/v1/job/{job}/audio-link")).json()["url"]
    time.sleep(0.01)
    async with running_app(settings) as (_, client):
        assert (await client.get(link, headers={"Range": "bytes=0-1"})).status_code == 206
