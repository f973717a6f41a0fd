"""Schemathesis over /openapi.json against a running server: no server errors, schema kept."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from audiotext.config import Settings

from helpers import free_port, live_server, make_settings, new_key


async def test_openapi_fuzzing_finds_no_server_error(settings: Settings) -> None:
    async with live_server(settings) as url:
        process = await _run_schemathesis(url)
    assert process.returncode == 0, process.stdout[-6000:]
    assert " passed" in process.stdout


async def test_openapi_fuzzing_with_auth_on_finds_no_server_error(tmp_path: Path) -> None:
    """With API keys on, as the chart runs it: the key's responses keep the schema too."""
    settings = make_settings(tmp_path, port=free_port(), auth=True)
    async with live_server(settings) as url:
        _, secret = await new_key(settings, "fuzzer")
        process = await _run_schemathesis(url, "--header", f"Authorization: Bearer {secret}")
    assert process.returncode == 0, process.stdout[-6000:]
    assert " passed" in process.stdout


async def _run_schemathesis(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    schemathesis = str(Path(sys.executable).parent / "schemathesis")
    command = [
        schemathesis,
        "run",
        f"{url}/openapi.json",
        "--checks",
        "not_a_server_error,response_schema_conformance,"
        "status_code_conformance,content_type_conformance",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "30",
        "--seed",
        "1",
        "--workers",
        "1",
        *extra,
    ]
    # The server runs on this event loop, so the CLI runs in a thread.
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=300
    )
