"""Fixtures: a real ``audiotext serve`` (with and without API keys) and Debian's chromium
driven by Playwright (``playwright install`` cannot download here, and need not)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from webpage import DESKTOP, Server, serve

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Local mode as ``make serve`` runs it, with a small upload limit to test against."""
    yield from serve(tmp_path_factory.mktemp("web"), max_upload_bytes=str(3 * 1024 * 1024))


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from serve(tmp_path_factory.mktemp("web-auth"), auth="true")


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory, minio_server: Any) -> Iterator[Server]:
    """Storage in MinIO: the browser uploads straight to it with a presigned PUT."""
    yield from serve(
        tmp_path_factory.mktemp("web-s3"),
        minio_server.env(),
        storage_url="s3://webapp/audiotext",
    )


# Per module: Playwright's sync API runs an event loop of its own, which must be gone before
# the suite's asyncio tests run.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert shutil.which(CHROMIUM), "chromium is not installed (.ci/run installs it with apt-get)"
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # bypass_csp: the tests inject their probes and axe-core into the page.
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"the page threw: {errors}"
