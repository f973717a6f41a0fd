"""Dependencies as ``Annotated`` aliases, so a route reads like its signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from audiotext.config import Settings
from audiotext.services.jobs import JobService
from audiotext.services.uploads import UploadService
from audiotext.wiring import Services

# The dependencies are ``async def`` although they never wait: FastAPI runs a plain ``def``
# dependency in a worker thread, a thread hop on every request for an attribute lookup.


def services_of(connection: HTTPConnection) -> Services:
    services: Services = connection.app.state.services
    return services


async def get_services(connection: HTTPConnection) -> Services:
    return services_of(connection)


def jobs_of(connection: HTTPConnection) -> JobService:
    return services_of(connection).jobs


async def get_jobs(connection: HTTPConnection) -> JobService:
    return jobs_of(connection)


async def get_uploads(request: Request) -> UploadService:
    return services_of(request).uploads


async def get_settings(connection: HTTPConnection) -> Settings:
    return services_of(connection).settings


def owner_of(connection: HTTPConnection) -> str | None:
    """The tenant that owns what this request creates and may see (None: single tenant)."""
    owner: str | None = getattr(connection.state, "owner", None)
    return owner


def queue_of(connection: HTTPConnection) -> str | None:
    """The Kueue LocalQueue of the tenant whose key made this request (None: the default)."""
    queue: str | None = getattr(connection.state, "queue", None)
    return queue


async def get_owner(connection: HTTPConnection) -> str | None:
    return owner_of(connection)


ServicesDep = Annotated[Services, Depends(get_services)]
JobServiceDep = Annotated[JobService, Depends(get_jobs)]
UploadServiceDep = Annotated[UploadService, Depends(get_uploads)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
OwnerDep = Annotated[str | None, Depends(get_owner)]
