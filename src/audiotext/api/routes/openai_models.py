"""OpenAI's models list: what this server can serve, and the names clients send for it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from audiotext.api.deps import SettingsDep
from audiotext.api.schemas import error_responses
from audiotext.engine.catalog import available_models, find_model
from audiotext.jobs.errors import ModelNotFound

router = APIRouter(
    prefix="/v1/models", tags=["openai"], responses=error_responses(401, 404, 429, openai=True)
)


@router.get("", summary="The models this server can serve (OpenAI's list)")
async def list_models(settings: SettingsDep) -> dict[str, Any]:
    return {"object": "list", "data": [m.public() for m in available_models(settings)]}


@router.get("/{model_id:path}", summary="One model (OpenAI's model object)")
async def get_model(model_id: str, settings: SettingsDep) -> dict[str, Any]:
    entry = find_model(settings, model_id)
    if entry is None:
        raise ModelNotFound(f"the model {model_id!r} does not exist on this server")
    return entry.public()
