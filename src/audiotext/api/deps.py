"""Dependencies as ``Annotated`` aliases, so a route reads like its signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from audiotext.api.backends import Backends
from audiotext.config import Settings
from audiotext.services.jobs import JobService
from audiotext.services.uploads import UploadService


def get_backends(connection: HTTPConnection) -> Backends:
    backends: Backends = connection.app.state.backends
    return backends


def get_jobs(connection: HTTPConnection) -> JobService:
    return get_backends(connection).jobs


def get_uploads(request: Request) -> UploadService:
    return get_backends(request).uploads


def get_settings(connection: HTTPConnection) -> Settings:
    return get_backends(connection).settings


def get_owner(connection: HTTPConnection) -> str | None:
    """The tenant that owns what this request creates and may see (None: single tenant)."""
    owner: str | None = getattr(connection.state, "owner", None)
    return owner


BackendsDep = Annotated[Backends, Depends(get_backends)]
JobServiceDep = Annotated[JobService, Depends(get_jobs)]
UploadServiceDep = Annotated[UploadService, Depends(get_uploads)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
OwnerDep = Annotated[str | None, Depends(get_owner)]
