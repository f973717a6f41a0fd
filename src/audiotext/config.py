"""Settings: one object, built once from the environment (``AUDIOTEXT_*``) and passed in."""

from __future__ import annotations

import os
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from audiotext.jobs.choices import MIN_SHARD_SECONDS, EngineName

DEFAULT_PORT = 3203
DEFAULT_MODEL = "tiny.en"


class Settings(BaseSettings):
    """Every option of the gateway, the operator, the worker and the local mode."""

    model_config = SettingsConfigDict(
        env_prefix="AUDIOTEXT_",
        env_nested_delimiter="__",
        env_file=None,
        extra="ignore",
        # Secrets may also come as files (a mounted Secret): one file per variable, named
        # like it, e.g. $AUDIOTEXT_SECRETS_DIR/AUDIOTEXT_DATABASE_URL.
        secrets_dir=os.environ.get("AUDIOTEXT_SECRETS_DIR") or None,
    )

    config_file: Path | None = Field(
        None,
        description="A TOML file of settings, keyed by the names below in lower case without "
        "the prefix (max_upload_bytes = 1000000); environment variables win over it.",
    )

    # --- serving -------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(DEFAULT_PORT, ge=1, le=65535, description="Port of the HTTP server.")
    public_url: str | None = Field(
        None,
        description="Base URL clients use to reach the gateway; used in upload URLs of the "
        "local storage. Defaults to http://HOST:PORT.",
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (empty: CORS off)."
    )

    # --- backends ------------------------------------------------------------------------
    data_dir: Path = Field(
        Path("data"), description="Folder for the embedded defaults (SQLite file, storage)."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL: postgresql+psycopg://… or sqlite:///…; "
        "default: a SQLite file in DATA_DIR.",
    )
    database_pool_size: int = Field(
        10,
        ge=1,
        description="Connection pool size (PostgreSQL); status reads have a pool of their own "
        "of up to this size.",
    )
    database_pool_timeout: float = Field(
        5.0, gt=0, description="Seconds to wait for a pooled connection before answering 503."
    )
    redis_url: str | None = Field(
        None, description="redis://… for the event bus; empty: an in-process bus."
    )
    storage_url: str | None = Field(
        None, description="A folder, or s3://bucket/prefix; default: DATA_DIR/storage."
    )
    executor: Literal["local", "kubernetes"] = Field(
        "local",
        description="Where jobs run: in this process (local) or as TranscriptionJob "
        "resources in a cluster (kubernetes).",
    )

    # --- security ------------------------------------------------------------------------
    auth: bool = Field(
        False, description="Require an API key (Authorization: Bearer) on every non-health route."
    )
    rate_limit_per_minute: int = Field(
        600, ge=0, description="Requests per minute per API key (0: unlimited)."
    )
    max_active_jobs_per_key: int = Field(
        20, ge=0, description="Pending and running jobs one API key may have (0: unlimited)."
    )
    request_timeout_seconds: float = Field(
        60.0, gt=0, description="Longest a plain API request may take before it is cut off."
    )
    max_audio_seconds: float = Field(
        4 * 3600.0, gt=0, description="Longest audio accepted, in seconds."
    )

    # --- uploads -------------------------------------------------------------------------
    max_upload_bytes: int = Field(
        10 * 1024 * 1024, gt=0, description="Largest accepted audio file, in bytes."
    )
    upload_idle_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="Longest pause between two chunks of an upload's body before it is cut "
        "off with 408.",
    )
    upload_url_expires_seconds: int = Field(
        3600, ge=60, le=7 * 24 * 3600, description="Lifetime of presigned upload URLs."
    )
    secret_key: SecretStr = Field(
        SecretStr(""),
        description="Key that signs local upload URLs and the web app's audio links; with "
        "local storage generated per data dir when empty. Gateway replicas need the same one.",
    )

    # --- engine --------------------------------------------------------------------------
    engine: EngineName = Field("faster-whisper", description="Speech recognition engine.")
    model: str = Field(
        DEFAULT_MODEL, description="Default model: a Whisper model name or a local path."
    )
    device: Literal["auto", "cpu", "cuda"] = Field("cpu", description="Inference device.")
    compute_type: str = Field(
        "default",
        description="CTranslate2 compute type; 'default' is int8 on CPU, float16 on GPU.",
    )
    cpu_threads: int = Field(0, ge=0, description="Threads per model on CPU; 0: all cores.")
    batch_size: int = Field(
        0, ge=0, description="Batched inference (GPU); 0 keeps the sequential pipeline."
    )
    batched_from_seconds: float = Field(
        300.0,
        ge=0,
        description="On CPU, audio at least this long (with VAD on) is decoded by the batched "
        "pipeline, 4 windows at a time (quicker on long recordings); 0: never.",
    )
    beam_size: int = Field(5, ge=1, le=10, description="Beam size of the decoder.")
    realtime_url: str = Field(
        "",
        description="Where the gateway's live sessions run: the ws:// base URL of an "
        "`audiotext realtime` server (the chart's realtime Deployment); empty: in this process.",
    )
    realtime_sessions: int = Field(
        4, ge=0, description="Live transcription sessions (/v1/realtime) one process holds."
    )
    realtime_sessions_per_key: int = Field(
        2, ge=1, description="Live sessions one API key may hold at once."
    )
    realtime_decodes: int = Field(
        1,
        ge=1,
        description="Live decodes one process runs at once (each uses every CPU thread); the "
        "others wait their turn, and partial text gives way while the process is busy.",
    )
    realtime_idle_seconds: float = Field(
        60.0, gt=0, description="A live session that sends nothing for this long is closed."
    )
    shard_seconds: float = Field(
        600.0,
        ge=0,
        description="Recordings longer than this are transcribed in shards of about this "
        "length, cut at pauses, each decoding only its own part (bounded memory); 0: never.",
    )
    vad_filter: bool = Field(True, description="Skip silence with voice activity detection.")
    model_dir: Path | None = Field(
        None, description="Where downloaded models are kept (larger models by name)."
    )
    model_ttl_seconds: float = Field(
        900.0,
        ge=-1,
        description="A model unused for this long is unloaded (loaded again on demand); "
        "-1 keeps models loaded.",
    )
    speaker_model: Path | None = Field(
        None,
        description="The speaker network's weights (resemblyzer's pretrained.pt) for "
        "diarization; default: where `make install` puts them in the environment.",
    )

    # --- local executor ------------------------------------------------------------------
    local_concurrency: int = Field(
        1, ge=1, le=64, description="Jobs transcribed at once by the local executor."
    )
    max_attempts: int = Field(
        3, ge=1, le=20, description="Runs of a job before it is failed for good."
    )
    heartbeat_seconds: float = Field(
        10.0, gt=0, description="How often a running job reports that its worker is alive."
    )
    stale_job_seconds: float = Field(
        120.0,
        ge=0,
        description="A running job without a heartbeat for this long is retried or failed "
        "(0: never).",
    )
    openai_timeout_seconds: float = Field(
        600.0, gt=0, description="How long the OpenAI-compatible endpoints wait for a result."
    )

    # --- kubernetes ----------------------------------------------------------------------
    namespace: str = Field(
        "default", description="Namespace of the TranscriptionJob resources the gateway creates."
    )
    worker_image: str = Field(
        "localhost/audiotext-worker:dev", description="Image of the worker Job pods."
    )
    worker_secret: str = Field(
        "audiotext-worker",
        description="Secret in the resource's namespace whose keys become the worker's env.",
    )
    worker_device: Literal["gpu", "cpu"] = Field(
        "gpu", description="Default device of worker pods (a resource's spec.device wins)."
    )
    worker_gpus: int = Field(1, ge=0, le=16, description="GPUs per GPU worker pod.")
    worker_node_selector: dict[str, str] = Field(
        default_factory=dict, description="Node selector added to every worker pod."
    )
    worker_tolerations: list[dict[str, Any]] = Field(
        default_factory=list, description="Tolerations added to every worker pod."
    )
    worker_cpu_node_selector: dict[str, str] = Field(
        default_factory=dict, description="Node selector added to CPU worker pods only."
    )
    worker_cpu_tolerations: list[dict[str, Any]] = Field(
        default_factory=list, description="Tolerations added to CPU worker pods only."
    )
    worker_priority_class: str = Field("", description="priorityClassName of worker pods.")
    worker_models_claim: str = Field(
        "",
        description="A PersistentVolumeClaim of models, mounted read-only in worker pods as "
        "their AUDIOTEXT_MODEL_DIR; empty: the models baked into the worker image.",
    )
    worker_runtime_class: str = Field(
        "", description="runtimeClassName of GPU worker pods (e.g. nvidia)."
    )
    worker_resources: dict[str, Any] = Field(
        default_factory=dict, description="Resources (requests/limits) of the worker container."
    )
    worker_ttl_seconds_after_finished: int = Field(
        3600, ge=0, description="How long finished worker Jobs are kept."
    )
    worker_queue_name: str = Field(
        "", description="Default Kueue LocalQueue of worker Jobs (empty: no Kueue)."
    )
    operator_namespaces: list[str] = Field(
        default_factory=list,
        description="Namespaces the operator watches (empty: the whole cluster).",
    )
    operator_health_port: int = Field(
        8080, ge=0, le=65535, description="Port of the operator's /healthz (0: off)."
    )
    kubeconfig: Path | None = Field(
        None, description="Kubeconfig file; in-cluster credentials when empty."
    )

    termination_log: Path = Field(
        Path("/dev/termination-log"),
        description="Where the worker writes why it stopped (shown in the pod's status).",
    )

    # --- webhooks ------------------------------------------------------------------------
    webhook_secret: SecretStr = Field(
        SecretStr(""), description="HMAC-SHA256 key that signs webhook deliveries."
    )
    webhook_allow_private: bool = Field(
        False, description="Allow callbacks to loopback and private addresses."
    )
    webhook_max_attempts: int = Field(5, ge=1, le=20, description="Delivery attempts.")

    @field_validator("shard_seconds")
    @classmethod
    def _shards_not_tiny(cls, value: float) -> float:
        if 0 < value < MIN_SHARD_SECONDS:
            raise ValueError(f"shard_seconds must be 0 (off) or at least {MIN_SHARD_SECONDS:.0f}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier sources win: arguments, then the environment, then secrets, then the file.
        sources = (init_settings, env_settings, dotenv_settings, file_secret_settings)
        given = (
            init_settings.init_kwargs.get("config_file")
            if isinstance(init_settings, InitSettingsSource)
            else None
        )
        path = given or os.environ.get("AUDIOTEXT_CONFIG_FILE")
        if not path:
            return sources
        return (*sources, config_file_source(settings_cls, Path(path)))

    @cached_property
    def resolved_database_url(self) -> str:
        url = self.database_url or f"sqlite:///{(self.data_dir / 'audiotext.db').resolve()}"
        return async_database_url(url)

    @cached_property
    def resolved_storage_url(self) -> str:
        return self.storage_url or str((self.data_dir / "storage").resolve())

    @cached_property
    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"


def config_file_source(settings_cls: type[BaseSettings], path: Path) -> TomlConfigSettingsSource:
    """The settings in a TOML file; a missing file or an unknown key is an error, not ignored."""
    if not path.is_file():
        raise ValueError(f"AUDIOTEXT_CONFIG_FILE: {path} is not a file")
    try:
        source = TomlConfigSettingsSource(settings_cls, toml_file=path)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"AUDIOTEXT_CONFIG_FILE: {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(source.toml_data) - set(settings_cls.model_fields))
    if unknown:
        raise ValueError(
            f"AUDIOTEXT_CONFIG_FILE: {path} has unknown settings: {', '.join(unknown)}"
        )
    return source


def async_database_url(url: str) -> str:
    """The async-driver form of a database URL (the gateway runs on asyncio)."""
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url[len("sqlite:") :]
    if url.startswith(("postgresql:", "postgres:")):
        return "postgresql+psycopg:" + url.split(":", 1)[1]
    return url


def sync_database_url(url: str) -> str:
    """The blocking-driver form of a database URL (Alembic migrations)."""
    return url.replace("sqlite+aiosqlite:", "sqlite:")


def settings_table() -> str:
    """The README's configuration table, generated from the fields above."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        empty = field.default_factory is not None or isinstance(field.default, SecretStr)
        default = "(empty)" if empty or field.default in (None, "") else f"`{field.default}`"
        rows.append(f"| `AUDIOTEXT_{name.upper()}` | {default} | {field.description} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
