"""The ``audiotext`` command: serve, api, operator, worker, migrate, transcribe."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from audiotext import __version__
from audiotext.config import Settings
from audiotext.jobs.choices import ENGINES, OUTPUT_FORMATS, TASKS


def _serve(settings: Settings, *, realtime_only: bool = False) -> int:
    import uvicorn

    from audiotext.api.app import create_app
    from audiotext.api.realtime_app import create_realtime_app

    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    if realtime_only:
        app = create_realtime_app(settings)
        print(f"AudioText live transcription on ws://{host}:{settings.port}/v1/realtime")
    else:
        app = create_app(settings)
        print(f"AudioText: open http://{host}:{settings.port}/ in a browser", file=sys.stderr)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=20,
        proxy_headers=True,
        # Job updates are small JSON messages: compressing each one for every client costs
        # the gateway more CPU than the bytes it saves.
        ws_per_message_deflate=False,
    )
    return 0


def _settings_for_server(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if args.host:
        settings.host = args.host
    if args.port:
        settings.port = args.port
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    """All in one process: migrate, then gateway + local executor on the embedded defaults."""
    from audiotext.db.migrate import upgrade

    settings = _settings_for_server(args)
    upgrade(settings.resolved_database_url)
    return _serve(settings)


def cmd_api(args: argparse.Namespace) -> int:
    """The gateway alone (with the executor from configuration). It does not migrate: with
    several replicas that is ``audiotext migrate``'s job (the chart runs it as a hook)."""
    from audiotext.db.migrate import is_current

    settings = _settings_for_server(args)
    if is_current(settings.resolved_database_url) is False:
        # Said, not refused: a chart whose PostgreSQL comes with the release migrates it in
        # a hook that runs only once the gateway is up.
        logging.getLogger("audiotext.cli").warning(
            "the database schema is not this version's: run `audiotext migrate` "
            "(the chart's migration hook does); requests that need it fail until then"
        )
    return _serve(settings)


def cmd_realtime(args: argparse.Namespace) -> int:
    """Live transcription alone, its model loaded: the gateway relays sessions here."""
    return _serve(_settings_for_server(args), realtime_only=True)


def cmd_migrate(args: argparse.Namespace) -> int:
    from audiotext.db.migrate import downgrade, upgrade

    settings = Settings()
    if args.downgrade:
        downgrade(settings.resolved_database_url, args.revision or "base")
    else:
        upgrade(settings.resolved_database_url, args.revision or "head")
    print(f"database migrated ({'down' if args.downgrade else 'up'})", file=sys.stderr)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from audiotext.worker.main import run_worker

    return run_worker(args.job_id, Settings())


def cmd_operator(args: argparse.Namespace) -> int:
    settings = Settings()
    if settings.kubeconfig:
        # Set before the Kubernetes client is imported: it reads $KUBECONFIG at import time.
        os.environ["KUBECONFIG"] = str(settings.kubeconfig)
    from audiotext.operator.main import run_operator

    return run_operator(settings)


def cmd_keys(args: argparse.Namespace) -> int:
    """Manage API keys in the configured database."""
    from audiotext.db.migrate import upgrade
    from audiotext.jobs.errors import AudioTextError
    from audiotext.wiring import open_services

    settings = Settings()
    upgrade(settings.resolved_database_url)

    async def run() -> int:
        services = open_services(settings, "cli")
        keys = services.keys
        try:
            if args.keys_command == "create":
                key, secret = await keys.create(args.name, queue=args.queue)
                queued = f", queue {key.queue}" if key.queue else ""
                print(
                    f"created key {key.id} ({key.name}{queued}); it is shown only once:",
                    file=sys.stderr,
                )
                print(secret)
            elif args.keys_command == "list":
                print(f"{'id':36}  {'prefix':8}  {'created':20}  {'state':8}  {'queue':16}  name")
                for row in await keys.list():
                    state = "revoked" if row.revoked_at else "active"
                    created = row.created_at.strftime("%Y-%m-%d %H:%M:%S")
                    queue = row.queue or "-"
                    print(
                        f"{row.id:36}  {row.prefix:8}  {created:20}  {state:8}  {queue:16}  "
                        f"{row.name}"
                    )
            else:
                row = await keys.revoke(args.key)
                print(f"revoked key {row.id} ({row.name})", file=sys.stderr)
        except AudioTextError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        finally:
            await services.close()
        return 0

    return asyncio.run(run())


def cmd_transcribe(args: argparse.Namespace) -> int:
    """Transcribe one local file, offline, and print it."""
    from audiotext.diarization import MAX_SPEAKERS, DiarizeOptions, check_speaker_counts
    from audiotext.engine import EngineRegistry, TranscribeOptions
    from audiotext.formats import render
    from audiotext.jobs.errors import AudioTextError
    from audiotext.pipeline import transcribe_file

    settings = Settings()
    engines = EngineRegistry(settings)
    options = TranscribeOptions(
        model=args.model or settings.model,
        language=args.language,
        task=args.task,
        vad_filter=settings.vad_filter,
        beam_size=settings.beam_size,
    )
    show_progress = sys.stderr.isatty() and not args.quiet

    def on_progress(percent: int, _segment: object) -> None:
        if show_progress:
            bar = "#" * (percent // 4)
            sys.stderr.write(f"\r[{bar:<25}] {percent:3d}%")
            sys.stderr.flush()

    try:
        check_speaker_counts(args.min_speakers, args.max_speakers)
        speakers = DiarizeOptions(
            min_speakers=args.min_speakers or 1, max_speakers=args.max_speakers or MAX_SPEAKERS
        )
        transcript = transcribe_file(
            engines.get(args.engine),
            Path(args.file),
            options,
            on_progress,
            diarizer=engines.speakers.get() if args.diarize else None,
            speakers=speakers,
            shard_seconds=settings.shard_seconds,
        )
    except FileNotFoundError:
        print(f"error: {args.file}: no such file", file=sys.stderr)
        return 2
    except AudioTextError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    if show_progress:
        sys.stderr.write(f"\r[{'#' * 25}] 100%\n")
    output = render(transcript, args.format)
    if args.output:
        Path(args.output).write_text(output, encoding="utf-8")
    else:
        sys.stdout.write(output if output.endswith("\n") or not output else output + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="audiotext", description="Self-hosted speech to text with Whisper."
    )
    parser.add_argument("--version", action="version", version=f"audiotext {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    for name, func, text in (
        ("serve", cmd_serve, "run everything on this machine (local mode)"),
        ("api", cmd_api, "run the HTTP gateway"),
        ("realtime", cmd_realtime, "run a live-transcription server (the gateway relays to it)"),
    ):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--host", help="bind address (AUDIOTEXT_HOST)")
        p.add_argument("--port", type=int, help="port (AUDIOTEXT_PORT, default 3203)")
        p.set_defaults(func=func)

    p = sub.add_parser("operator", help="run the Kubernetes operator")
    p.set_defaults(func=cmd_operator)

    p = sub.add_parser("worker", help="run one job to its end (what a Job pod runs)")
    p.add_argument("job_id")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("--downgrade", action="store_true", help="go down instead of up")
    p.add_argument("--revision", help="target revision (default: head, or base going down)")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("keys", help="create, list and revoke API keys")
    keys = p.add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create a key and print it (once)")
    create.add_argument("--name", required=True, help="who or what the key is for")
    create.add_argument(
        "--queue",
        help="Kubernetes with Kueue: the LocalQueue of this tenant's jobs (default: the server's)",
    )
    keys.add_parser("list", help="list keys (never their secrets)")
    revoke = keys.add_parser("revoke", help="revoke a key by id, prefix or name")
    revoke.add_argument("key")
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("transcribe", help="transcribe a local audio file and print it")
    p.add_argument("file")
    p.add_argument("--format", choices=OUTPUT_FORMATS, default="txt")
    p.add_argument("--model", help="model name or path (default from configuration)")
    p.add_argument("--engine", choices=ENGINES)
    p.add_argument("--language", help="language code; detected when absent")
    p.add_argument("--task", choices=TASKS, default="transcribe")
    p.add_argument("--diarize", action="store_true", help="say who spoke (SPEAKER_00, …)")
    p.add_argument("--min-speakers", type=int, help="with --diarize: at least this many")
    p.add_argument("--max-speakers", type=int, help="with --diarize: at most this many")
    p.add_argument("--output", "-o", help="write to this file instead of stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_transcribe)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("AUDIOTEXT_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("alembic", "botocore", "faster_whisper"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
