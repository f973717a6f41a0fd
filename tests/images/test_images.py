"""The container images, built with `make images` and run with `.images/podman`.

The module builds the images once (the layer cache makes that quick when
nothing changed) and fails, never skips, when the build fails.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PODMAN = ROOT / ".images" / "podman"
AUDIO = ROOT.parent / "shared" / "audio" / "jfk.flac"
JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
IMAGES = {
    "api": "localhost/audiotext-api:dev",
    "operator": "localhost/audiotext-operator:dev",
    "worker": "localhost/audiotext-worker:dev",
}
DOCKERFILES = {
    "api": ROOT / "api" / "Dockerfile",
    "operator": ROOT / "operator" / "Dockerfile",
    "worker": ROOT / "worker-image" / "Dockerfile",
}
USER = "10001"
BUILD_TIMEOUT_S = 1800

pytestmark = [pytest.mark.images, pytest.mark.timeout(BUILD_TIMEOUT_S + 600)]


def make_images() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-f", str(ROOT / "hack" / "images.mk"), "images"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PODMAN), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def image_id(image: str) -> str:
    return podman("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()


def words(text: str) -> str:
    """Lower-case words only: transcripts differ in case and punctuation."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    built = make_images()
    if built.returncode != 0:
        output = f"{built.stdout[-4000:]}\n{built.stderr[-4000:]}"
        pytest.fail(f"make images failed ({built.returncode}):\n{output}")
    for image in IMAGES.values():
        assert image_id(image), f"{image} is missing after make images"
    return IMAGES


@pytest.fixture
def container_name() -> Iterator[str]:
    name = f"audiotext-test-{uuid.uuid4().hex[:10]}"
    yield name
    podman("rm", "--force", "--time", "0", name)


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Test traffic stays on loopback and never goes through a proxy.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with _http.open(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def test_worker_transcribes_offline_on_a_read_only_root(images: dict[str, str]) -> None:
    assert AUDIO.is_file(), f"test audio missing: {AUDIO}"
    run = podman(
        "run", "--rm", "--network=none", "--read-only", "--user", USER,
        "-v", f"{AUDIO.parent}:/data:ro",
        images["worker"], "audiotext", "transcribe", "/data/jfk.flac",
        timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, f"transcribe failed ({run.returncode}):\n{run.stderr[-3000:]}"
    assert words(run.stdout) == words(JFK_TEXT), f"stdout: {run.stdout!r}"


def test_api_serves_docs_and_stops_on_sigterm(images: dict[str, str], container_name: str) -> None:
    port = free_loopback_port()
    started = podman(
        "run", "--detach", "--name", container_name, "--read-only", "--user", USER,
        "-p", f"127.0.0.1:{port}:3203", images["api"],
    )  # fmt: skip
    assert started.returncode == 0, started.stderr

    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    status, body = 0, ""
    while time.monotonic() < deadline:
        try:
            status, body = http_get(f"{base}/api/v1")
            if status == 200:
                break
        except OSError:
            pass
        state = podman("inspect", "--format", "{{.State.Running}}", container_name).stdout
        if state.strip() != "true":
            logs = podman("logs", container_name).stderr
            pytest.fail(f"the API container exited while starting:\n{logs[-3000:]}")
        time.sleep(0.5)
    assert status == 200, f"GET /api/v1 never answered 200 (last: {status} {body[:500]})"
    assert isinstance(json.loads(body), dict)

    status, body = http_get(f"{base}/docs")
    assert status == 200 and "swagger" in body.lower(), f"/docs: {status} {body[:300]}"
    status, body = http_get(f"{base}/openapi.json")
    assert status == 200 and "/api/v1" in json.loads(body)["paths"]

    assert podman("kill", "--signal", "TERM", container_name).returncode == 0
    begin = time.monotonic()
    waited = podman("wait", container_name, timeout=30)
    elapsed = time.monotonic() - begin
    logs = podman("logs", container_name)
    assert elapsed <= 10, f"took {elapsed:.1f}s to stop after SIGTERM"
    # 143 = 128 + SIGTERM: uvicorn re-raises the signal once its shutdown is complete.
    assert waited.stdout.strip() in {"0", "143"}, (
        f"exit code {waited.stdout.strip()} after SIGTERM:\n{logs.stderr[-3000:]}"
    )
    assert "Traceback" not in logs.stdout + logs.stderr, logs.stderr[-3000:]


def test_operator_without_a_cluster_fails_with_a_clear_message(images: dict[str, str]) -> None:
    run = podman("run", "--rm", "--network=none", "--read-only", images["operator"], timeout=120)
    output = (run.stdout + run.stderr).strip()
    assert run.returncode != 0, f"the operator ran without a cluster:\n{output[-2000:]}"
    assert re.search(r"kube|cluster", output, re.IGNORECASE), output[-2000:]
    assert "Traceback" not in output, f"a traceback instead of a message:\n{output[-3000:]}"


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_image_runs_as_non_root(images: dict[str, str], name: str) -> None:
    config = json.loads(podman("image", "inspect", images[name]).stdout)[0]["Config"]
    assert config["User"].split(":")[0] == USER
    run = podman("run", "--rm", "--network=none", images[name], "id", "-u")
    assert run.returncode == 0 and run.stdout.strip() == USER, run.stdout + run.stderr


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_image_has_labels_and_no_compilers(images: dict[str, str], name: str) -> None:
    config = json.loads(podman("image", "inspect", images[name]).stdout)[0]["Config"]
    labels = config.get("Labels") or {}
    for key in ("title", "version", "revision", "licenses"):
        assert labels.get(f"org.opencontainers.image.{key}"), f"label {key} missing"
    run = podman(
        "run", "--rm", "--network=none", images[name], "sh", "-c",
        "for c in gcc cc c++ g++ clang make ld; do command -v $c || true; done",
    )  # fmt: skip
    assert run.returncode == 0 and run.stdout.strip() == "", f"found: {run.stdout}"


def test_rebuild_without_changes_uses_the_cache(images: dict[str, str]) -> None:
    before = {name: image_id(image) for name, image in images.items()}
    begin = time.monotonic()
    rebuilt = make_images()
    elapsed = time.monotonic() - begin
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert {name: image_id(image) for name, image in images.items()} == before
    assert elapsed < 60, f"a rebuild without changes took {elapsed:.0f}s"


# ---- Dockerfile lint: also covers the GPU variant, which is not built here ----


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    assert not pending, f"{dockerfile}: dangling line continuation"
    return result


def stages(steps: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, rest in steps:
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, rest))
    return found


KNOWN = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
    "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_dockerfile_lint(name: str) -> None:
    steps = instructions(DOCKERFILES[name])
    assert {keyword for keyword, _ in steps} <= KNOWN
    global_args = {}
    for keyword, rest in steps:
        if keyword == "FROM":
            break
        assert keyword == "ARG", f"{keyword} before the first FROM"
        key, _, default = rest.partition("=")
        global_args[key] = default
    # A pinned public base by default: a dated or versioned tag, never latest.
    base = global_args.get("BASE_IMAGE", "")
    assert re.fullmatch(r"[\w./-]+:[\w.-]*\d[\w.-]*(@sha256:[0-9a-f]{64})?", base), base

    all_stages = stages(steps)
    names: set[str] = set()
    for stage in all_stages:
        source = stage[0][1].split()
        assert source[0] in names or source[0].startswith("${"), f"FROM {source[0]}"
        if len(source) == 3:
            assert source[1].upper() == "AS"
            names.add(source[2])
        for keyword, rest in stage:
            if keyword == "COPY" and rest.startswith("--from="):
                assert rest.split()[0].removeprefix("--from=") in names, rest
            if keyword == "RUN" and "apt-get install" in rest:
                assert "--no-install-recommends" in rest, rest
                assert "rm -rf /var/lib/apt/lists/*" in rest, rest
    assert len(all_stages) >= 2, "multi-stage build expected"

    final = all_stages[-1]
    assert final[0][1].split()[0] == "${BASE_IMAGE}"
    final_run = " ".join(rest for keyword, rest in final if keyword == "RUN")
    for compiler in ("build-essential", "gcc", "g++", "clang", "python3-dev"):
        assert compiler not in final_run.split(), f"{compiler} in the final stage"
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users and users[-1].split(":")[0] == USER
    for keyword in ("CMD", "ENTRYPOINT"):
        value = [rest for k, rest in final if k == keyword][-1]
        assert isinstance(json.loads(value), list), f"{keyword} not in exec form"
    labels = " ".join(rest for keyword, rest in final if keyword == "LABEL")
    assert "org.opencontainers.image.title" in labels


def test_worker_dockerfile_has_a_gpu_variant() -> None:
    """The GPU variant: VARIANT=gpu on a pinned CUDA runtime base, refused without CUDA."""
    text = DOCKERFILES["worker"].read_text()
    steps = instructions(DOCKERFILES["worker"])
    assert ("ARG", "VARIANT=cpu") in steps
    cuda = [rest for keyword, rest in steps if rest.startswith("CUDA_BASE_IMAGE=")]
    assert cuda and re.fullmatch(
        r"CUDA_BASE_IMAGE=nvidia/cuda:\d+\.\d+\.\d+-cudnn-runtime-\S+", cuda[0]
    )
    assert f"BASE_IMAGE={cuda[0].partition('=')[2]}" in text, "GPU build command not documented"
    final = stages(steps)[-1]
    guard = " ".join(rest for keyword, rest in final if keyword == "RUN")
    assert '"$VARIANT" = gpu' in guard and "CUDA_VERSION" in guard and "exit 1" in guard


def test_worker_gpu_variant_refuses_a_base_without_cuda(images: dict[str, str]) -> None:
    """The GPU path of the Dockerfile runs up to its guard (builder stages come from the cache)."""
    base = "localhost/audiotext-base:bookworm"
    run = podman(
        "build", "--network=host", "-f", str(DOCKERFILES["worker"]),
        "--build-arg", "VARIANT=gpu", "--build-arg", f"BASE_IMAGE={base}",
        "--build-arg", "BUILD_BASE_IMAGE=localhost/audiotext-build-base:bookworm",
        "-t", "localhost/audiotext-worker:gpu-lint", str(ROOT),
        timeout=BUILD_TIMEOUT_S,
    )  # fmt: skip
    assert run.returncode != 0, "VARIANT=gpu built on a base without CUDA"
    assert "VARIANT=gpu needs a CUDA runtime base" in run.stdout + run.stderr, run.stderr[-2000:]


def test_dockerignore_keeps_the_context_small() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in lines, "allow-list expected"
    assert {"!pyproject.toml", "!src/"} <= set(lines)
