"""Reading OpenAI's multipart transcription request: every parameter of the endpoint, each
checked with a 400 that names it, as OpenAI answers. The route only runs what this reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from audiotext.api.uploaded_file import form_text
from audiotext.jobs.choices import Task
from audiotext.jobs.decoding import VAD_PARAMETERS, decoding_options, flag
from audiotext.jobs.errors import InvalidValue
from audiotext.services.admission import JobRequest
from audiotext.services.speaker_references import NAMES

RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")
GRANULARITIES = ("segment", "word")
INCLUDES = ("logprobs",)
# Form fields beyond OpenAI's own: the decoder's options, documented as extensions.
EXTENSIONS = ("hotwords", "vad_filter", "beam_size")


@dataclass(frozen=True)
class OpenAIRequest:
    """What one request to ``/v1/audio/transcriptions`` (or ``translations``) asks for."""

    job: JobRequest
    response_format: str
    stream: bool
    granularities: frozenset[str]
    logprobs: bool
    speaker_names: list[str]
    speaker_references: list[str]

    @property
    def diarized(self) -> bool:
        return self.response_format == "diarized_json"


def read_request(form: FormData, task: Task, model: str) -> OpenAIRequest:
    """The request in ``form``; ``model`` is the one its ``model`` field resolved to."""
    response_format = form_text(form.get("response_format")) or "json"
    if response_format not in RESPONSE_FORMATS:
        raise InvalidValue(
            f"response_format must be one of {', '.join(RESPONSE_FORMATS)}", "response_format"
        )
    diarized = response_format == "diarized_json"
    if diarized and task == "translate":
        raise InvalidValue("diarized_json is for transcriptions", "response_format")
    stream_text = form_text(form.get("stream"))
    stream = flag(stream_text, "stream") if stream_text else False
    if stream and response_format in ("srt", "vtt"):
        raise InvalidValue("stream is for json, text, verbose_json and diarized_json", "stream")
    granularities = frozenset(str(g) for g in form.getlist("timestamp_granularities[]"))
    if not granularities <= set(GRANULARITIES):
        raise InvalidValue(
            "timestamp_granularities[] may hold segment and word", "timestamp_granularities"
        )
    includes = {str(i) for i in form.getlist("include[]")}
    if not includes <= set(INCLUDES):
        raise InvalidValue("include[] may hold logprobs", "include")
    language = form_text(form.get("language"))
    if language is not None and (len(language) > 16 or not language.replace("-", "").isalpha()):
        raise InvalidValue("language must be a language code such as en", "language")
    names = [str(n) for n in form.getlist("known_speaker_names[]")]
    references = [str(r) for r in form.getlist("known_speaker_references[]")]
    if (names or references) and not diarized:
        raise InvalidValue("known speakers need response_format=diarized_json", NAMES)
    logprobs = "logprobs" in includes
    decoding = decoding_options(
        {
            "prompt": form_text(form.get("prompt")),
            "temperature": form_text(form.get("temperature")),
            **{name: form_text(form.get(name)) for name in EXTENSIONS},
            **chunking_strategy(form),
        }
    )
    # Word timings cost decoding time: computed only when the answer needs them (as OpenAI
    # does), or diarization (a speaker per word) or logprobs (one per word) do.
    decoding["word_timestamps"] = "word" in granularities or diarized or logprobs
    upload = form.get("file")
    return OpenAIRequest(
        job=JobRequest(
            filename=getattr(upload, "filename", None) or "audio",
            model=model,
            language=language,
            task=task,
            # diarized_json asks who spoke (OpenAI's speaker annotations).
            options={
                "source": "openai",
                **decoding,
                **({"diarize": True} if diarized else {}),
                # A streamed job decodes a short first stretch first: its words come soon.
                **({"stream": True} if stream else {}),
            },
        ),
        response_format=response_format,
        stream=stream,
        granularities=granularities,
        logprobs=logprobs,
        speaker_names=names,
        speaker_references=references,
    )


def chunking_strategy(form: FormData) -> dict[str, Any]:
    """``chunking_strategy`` as decoding options: ``auto`` is the voice-activity filter with
    its defaults; ``server_vad`` sets its parameters. The SDK sends an object as
    ``chunking_strategy[type]`` and so on; curl users may send it as JSON text."""
    raw = form_text(form.get("chunking_strategy"))
    strategy: Any
    if raw is not None and raw.lstrip().startswith("{"):
        try:
            strategy = json.loads(raw)
        except ValueError:
            raise InvalidValue("chunking_strategy is not valid JSON", "chunking_strategy") from None
    elif raw is not None:
        strategy = raw
    else:
        prefix = "chunking_strategy["
        strategy = {
            key[len(prefix) : -1]: form_text(value)
            for key, value in form.multi_items()
            if key.startswith(prefix) and key.endswith("]")
        }
        if not strategy:
            return {}
    if strategy == "auto":
        return {"vad_filter": True}
    if not isinstance(strategy, dict) or strategy.get("type") != "server_vad":
        raise InvalidValue(
            'chunking_strategy must be "auto" or {"type": "server_vad", …}', "chunking_strategy"
        )
    parameters = {k: v for k, v in strategy.items() if k != "type" and v not in (None, "")}
    unknown = set(parameters) - set(VAD_PARAMETERS)
    if unknown:
        raise InvalidValue(
            f"chunking_strategy has no {', '.join(sorted(unknown))}", "chunking_strategy"
        )
    return {"vad_filter": True, "vad_parameters": parameters}
