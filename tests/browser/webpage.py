"""What the browser tests share: a real ``audiotext serve`` and screenshots of each view."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from playwright.sync_api import Page

from helpers import ROOT, free_port

AUDIOTEXT = str(Path(sys.executable).parent / "audiotext")
# Screenshots of every view, desktop and phone, for people to look at.
SHOTS = Path(os.environ.get("AUDIOTEXT_TEST_OUTPUT", ROOT / ".test-output")) / "web"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Server:
    url: str
    env: dict[str, str]

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [AUDIOTEXT, *args], env=self.env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()


def serve(
    folder: Path, extra_env: dict[str, str] | None = None, **settings: str
) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        **(extra_env or {}),
        "AUDIOTEXT_PORT": str(port),
        "AUDIOTEXT_DATA_DIR": str(folder / "data"),
        "AUDIOTEXT_CPU_THREADS": "2",
        **{f"AUDIOTEXT_{k.upper()}": v for k, v in settings.items()},
    }
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen([AUDIOTEXT, "serve"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (folder / "server.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "audiotext serve did not start"
            time.sleep(0.1)
        yield Server(url, env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def shoot(page: Page, name: str) -> None:
    """A screenshot at desktop width and one at phone width; the page must not scroll
    sideways on a phone."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=SHOTS / f"{name}-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(100)
    page.screenshot(path=SHOTS / f"{name}-phone.png", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} is {width} px wide on a 390 px phone"
    page.set_viewport_size(DESKTOP)
