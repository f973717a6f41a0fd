"""The web app in a real browser against a real ``audiotext serve``: upload, watch the job
move, read and listen to the transcript, rename speakers, download, API keys."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Playwright, expect

from helpers import JFK, Conversation
from realtime_client import microphone_wav
from webpage import DESKTOP, Server, shoot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).resolve().parents[2] / ".venv/share/audiotext/axe-core-4.10.3.min.js"
JOB_SECONDS = 120_000  # ms a job may take to finish on a loaded 2-core machine


def record_upload_progress(page: Page) -> None:
    """Every value the upload bar takes, and uploads slowed down so that it takes several."""
    page.evaluate(
        """() => {
        window.uploadProgress = [];
        const bar = document.getElementById('upload-progress');
        new MutationObserver(() => window.uploadProgress.push(bar.value))
            .observe(bar, {attributes: true, attributeFilter: ['value']});
        const set = Object.getOwnPropertyDescriptor(HTMLProgressElement.prototype, 'value').set;
        Object.defineProperty(bar, 'value', {
            set(v) { set.call(this, v); window.uploadProgress.push(Number(v)); },
            get() { return Number(this.getAttribute('value') || 0); },
        });
    }"""
    )
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 200_000},
    )


def axe_violations(page: Page) -> list[dict[str, object]]:
    assert AXE.is_file(), f"missing {AXE} (make test-prereqs unpacks axe-core)"
    page.add_script_tag(content=AXE.read_text())
    results = page.evaluate("async () => (await axe.run(document)).violations")
    return [v for v in results if v["impact"] in ("serious", "critical")]


def submit(page: Page, path: Path) -> None:
    page.set_input_files("#file-input", str(path))
    page.get_by_role("button", name="Transcribe", exact=True).click()


def wait_done(page: Page, filename: str) -> None:
    item = page.locator("#job-list li", has_text=filename).first
    expect(item.locator(".badge")).to_have_text("Done", timeout=JOB_SECONDS)


def test_upload_watch_read_listen_download(server: Server, page: Page, tmp_path: Path) -> None:
    page.goto(server.url)
    expect(page.locator("#jobs-empty")).to_contain_text("No jobs yet")
    shoot(page, "home-empty")
    record_upload_progress(page)

    submit(page, JFK)
    expect(page.locator("#upload-status")).to_contain_text("Uploaded", timeout=30_000)
    values = page.evaluate("window.uploadProgress")
    assert values[-1] == 100
    assert any(0 < v < 100 for v in values), f"the bar never moved: {values}"

    job_link = page.locator("#job-list li a", has_text="jfk.flac")
    expect(job_link).to_be_visible()
    shoot(page, "home-job")
    wait_done(page, "jfk.flac")  # over the WebSocket: the page is never reloaded

    job_link.click()
    expect(page.locator("#segments")).to_contain_text(
        "ask not what your country can do for you", timeout=15_000
    )
    expect(page.locator("#job-status")).to_have_text("Done")
    shoot(page, "transcript")

    # A word seeks the player to where it is said.
    job_id = page.evaluate("location.hash").rsplit("/", 1)[1]
    transcript = httpx.get(f"{server.url}/api/v1/job/{job_id}/transcript?format=json").json()
    words = [w for s in transcript["segments"] for w in s["words"]]
    country = next(w for w in words if "country" in w["word"])
    expect(page.locator("#player")).to_have_attribute("src", re.compile("/audio"))
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    page.locator(".word", has_text="country").first.click()
    position = page.evaluate("document.getElementById('player').currentTime")
    assert position == pytest.approx(country["start"], abs=0.05)
    page.wait_for_function("document.querySelector('.word.current') !== null")

    # By keyboard: a segment's time is a button, and focus is visible on it.
    page.locator(".segment .time").first.focus()
    page.keyboard.press("Tab")
    second = page.locator(".segment .time").nth(1)
    expect(second).to_be_focused()
    assert second.evaluate("el => getComputedStyle(el).outlineStyle") != "none"
    page.keyboard.press("Enter")
    position = page.evaluate("document.getElementById('player').currentTime")
    assert position == pytest.approx(transcript["segments"][1]["start"], abs=0.05)

    # Search marks the words that match.
    page.get_by_label("Search").fill("country")
    expect(page.locator("#search-count")).to_have_text("2 matches")
    expect(page.locator(".word.match")).to_have_count(2)

    with page.expect_download() as info:
        page.get_by_role("button", name="srt", exact=True).click()
    srt = Path(info.value.path()).read_text()
    assert info.value.suggested_filename == "jfk.srt"
    assert re.search(r"^1\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\n", srt, re.M), srt
    assert "country" in srt

    assert axe_violations(page) == []
    page.goto(server.url)
    assert axe_violations(page) == []


def test_speakers_are_coloured_and_renamed_in_view_and_downloads(
    server: Server, page: Page, conversation: Conversation
) -> None:
    page.goto(server.url)
    page.get_by_label("Say who spoke").check()
    page.get_by_label("At least").fill("3")
    page.get_by_label("At most").fill("3")
    submit(page, conversation.path)
    wait_done(page, "conversation.wav")
    page.locator("#job-list li a", has_text="conversation.wav").click()

    speakers = page.locator("#speaker-list li")
    expect(speakers).to_have_count(3, timeout=15_000)
    colours = {
        page.locator(f".segment.s{i}").first.evaluate("el => getComputedStyle(el).borderLeftColor")
        for i in range(3)
    }
    assert len(colours) == 3

    page.get_by_label("Name for SPEAKER_00").fill("Ada")
    expect(page.locator(".who", has_text="Ada").first).to_be_visible()
    assert page.locator('.who[data-speaker="SPEAKER_00"]').all_inner_texts()[0] == "Ada"
    shoot(page, "speakers")
    with page.expect_download() as info:
        page.get_by_role("button", name="txt", exact=True).click()
    text = Path(info.value.path()).read_text()
    assert text.startswith("Ada: "), text
    with page.expect_download() as info:
        page.get_by_role("button", name="rttm", exact=True).click()
    assert " Ada " in Path(info.value.path()).read_text()
    assert axe_violations(page) == []  # the speakers' colours among them


def test_files_refused_before_upload_and_by_the_server(
    server: Server, page: Page, tmp_path: Path
) -> None:
    before = httpx.get(f"{server.url}/api/v1/job/read").json()["total"]
    page.goto(server.url)
    large = tmp_path / "long.wav"
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-c", "1", str(large), "trim", "0", "120"], check=True
    )
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.method == "POST" else None)

    page.set_input_files("#file-input", str(large))
    expect(page.locator("#upload-error")).to_contain_text("this server takes files up to 3 MB")
    page.get_by_role("button", name="Transcribe", exact=True).click()
    expect(page.locator("#upload-error")).to_contain_text("up to 3 MB")

    notes = tmp_path / "notes.txt"
    notes.write_text("not audio")
    page.set_input_files("#file-input", str(notes))
    expect(page.locator("#upload-error")).to_contain_text("not a supported audio file")
    shoot(page, "refused")
    assert requests == []

    # What the server refuses, it says why, and the page shows its words.
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF" + bytes(200))
    submit(page, broken)
    error = page.locator("#upload-error")
    expect(error).not_to_be_empty(timeout=15_000)
    answer = httpx.post(
        f"{server.url}/api/v1/job/transcribe",
        files={"file": ("broken.wav", broken.read_bytes(), "audio/wav")},
    )
    assert answer.status_code in (400, 415)
    expect(error).to_have_text(answer.json()["detail"])
    assert httpx.get(f"{server.url}/api/v1/job/read").json()["total"] == before


def test_text_appears_while_decoded_and_a_job_can_be_cancelled(
    server: Server, page: Page, two_minutes: Path
) -> None:
    # Two minutes: the job is surely still running when Cancel is clicked (a minute's job
    # could end between its first words and the click).
    page.goto(server.url)
    submit(page, two_minutes)
    item = page.locator("#job-list li", has_text=two_minutes.name)
    live = item.locator(".live")
    expect(live).to_contain_text("morning", timeout=JOB_SECONDS)
    expect(item.locator(".badge")).to_have_text("Transcribing")
    shoot(page, "home-live")
    page.get_by_role("button", name=f"Cancel {two_minutes.name}").click()
    expect(item.locator(".badge")).to_have_text("Cancelled", timeout=30_000)
    expect(page.locator("#notice")).to_have_text("The job was cancelled.")
    job = httpx.get(f"{server.url}/api/v1/job/read?status=cancelled").json()["items"][0]
    assert job["filename"] == two_minutes.name


def test_jobs_filtered_and_paged(server: Server, page: Page, tmp_path: Path) -> None:
    silence = tmp_path / "quiet.wav"
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-c", "1", str(silence), "trim", "0", "1"], check=True
    )
    for i in range(11):
        answer = httpx.post(
            f"{server.url}/api/v1/job/transcribe",
            files={"file": (f"quiet-{i:02d}.wav", silence.read_bytes(), "audio/wav")},
        )
        assert answer.status_code == 202, answer.text
    total = httpx.get(f"{server.url}/api/v1/job/read").json()["total"]
    assert total > 10
    page.goto(server.url)
    expect(page.locator("#page-info")).to_have_text(f"1\u201310 of {total}")
    expect(page.locator("#job-list li")).to_have_count(10)
    expect(page.locator("#job-list li").first).to_contain_text("quiet-10.wav")  # newest first
    expect(page.get_by_role("button", name="Newer")).to_be_disabled()
    page.get_by_role("button", name="Older").click()
    expect(page.locator("#page-info")).to_have_text(f"11\u2013{total} of {total}")
    expect(page.locator("#job-list li")).to_have_count(total - 10)
    expect(page.get_by_role("button", name="Older")).to_be_disabled()

    page.get_by_label("Show").select_option("cancelled")
    expect(page.locator("#job-list li")).to_have_count(1)
    expect(page.locator("#job-list li .badge")).to_have_text("Cancelled")
    page.get_by_label("Show").select_option("failed")
    expect(page.locator("#jobs-empty")).to_have_text("No jobs with this status.")
    shoot(page, "home-filtered")


@pytest.mark.s3
def test_presigned_upload_straight_to_s3_and_audio_from_it(s3_server: Server, page: Page) -> None:
    page.goto(s3_server.url)
    puts: list[str] = []
    page.on("request", lambda r: puts.append(r.url) if r.method == "PUT" else None)
    record_upload_progress(page)
    submit(page, JFK)
    expect(page.locator("#upload-status")).to_contain_text("Uploaded", timeout=30_000)
    assert len(puts) == 1 and not puts[0].startswith(s3_server.url)  # to S3 itself
    assert "X-Amz-Signature" in puts[0]
    assert any(0 < v < 100 for v in page.evaluate("window.uploadProgress"))
    wait_done(page, "jfk.flac")
    page.locator("#job-list li a", has_text="jfk.flac").click()
    expect(page.locator("#segments")).to_contain_text("ask not what your country", timeout=15_000)
    page.wait_for_function("document.getElementById('player').duration > 10")


def test_live_view_transcribes_the_microphone(
    server: Server, playwright: Playwright, tmp_path: Path
) -> None:
    # Chromium's fake microphone plays this file (in a loop) to the page.
    speech = microphone_wav(tmp_path)
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={speech}",
        ],
    )
    try:
        page = browser.new_context(viewport=DESKTOP, bypass_csp=True).new_page()
        page.goto(f"{server.url}/#/live")
        expect(page.get_by_role("heading", name="Live transcription")).to_be_visible()
        expect(page.locator("#live-empty")).to_have_text("Nothing said yet.")
        page.evaluate(
            """() => { window.openTurns = 0;
            new MutationObserver(() => {
                if (document.querySelector('#live-turns li.open .text:not(:empty)')) {
                    window.openTurns += 1; }
            }).observe(document.getElementById('live-turns'),
                       {subtree: true, childList: true, characterData: true}); }"""
        )
        page.get_by_role("button", name="Start").click()
        expect(page.locator("#live-state")).not_to_be_empty()
        turns = page.locator("#live-turns li:not(.open)")
        expect(page.locator("#live-turns")).to_contain_text("your country", timeout=60_000)
        assert turns.count() >= 1
        assert page.evaluate("window.openTurns") > 0, "no text showed before a turn ended"
        shoot(page, "live")
        page.get_by_role("button", name="Stop").click()
        expect(page.get_by_role("button", name="Start")).to_be_enabled(timeout=15_000)
        assert page.locator("#live-error").inner_text() == ""
        assert axe_violations(page) == []
    finally:
        browser.close()


def test_api_key_prompt_and_only_that_keys_jobs(auth_server: Server, page: Page) -> None:
    auth_server.cli("migrate")
    mine = auth_server.cli("keys", "create", "--name", "mine").splitlines()[-1]
    theirs = auth_server.cli("keys", "create", "--name", "theirs").splitlines()[-1]
    for key, name in ((mine, "mine.flac"), (theirs, "theirs.flac")):
        answer = httpx.post(
            f"{auth_server.url}/api/v1/job/transcribe",
            headers={"Authorization": f"Bearer {key}"},
            files={"file": (name, JFK.read_bytes(), "audio/flac")},
        )
        assert answer.status_code == 202, answer.text

    page.goto(auth_server.url)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    key_field = page.get_by_label("Key", exact=True)
    expect(key_field).to_have_attribute("type", "password")
    shoot(page, "key-prompt")
    assert axe_violations(page) == []

    key_field.fill("at_wrong_key")
    page.get_by_role("button", name="Use this key").click()
    expect(page.locator("#key-error")).to_contain_text("not accepted")
    expect(dialog).to_be_visible()

    key_field.fill(mine)
    page.get_by_role("button", name="Use this key").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#job-list li a", has_text="mine.flac")).to_be_visible()
    expect(page.locator("#job-list")).not_to_contain_text("theirs.flac")
    assert page.evaluate("sessionStorage.getItem('audiotext.key')") == mine
    assert page.evaluate("localStorage.length") == 0

    # The audio plays through a signed link, without the key in the page.
    wait_done(page, "mine.flac")
    page.locator("#job-list li a", has_text="mine.flac").click()
    expect(page.locator("#player")).to_have_attribute("src", re.compile(r"access="))
    assert mine not in (page.locator("#player").get_attribute("src") or "")
    page.wait_for_function("document.getElementById('player').readyState >= 1")

    # A key revoked while the page is open brings the prompt back.
    auth_server.cli("keys", "revoke", "mine")
    page.wait_for_timeout(6_000)  # the server trusts a verified key for 5 s
    page.goto(auth_server.url)
    expect(dialog).to_be_visible()
    expect(page.locator("#key-error")).to_contain_text("not accepted")
    assert page.evaluate("sessionStorage.getItem('audiotext.key')") is None
