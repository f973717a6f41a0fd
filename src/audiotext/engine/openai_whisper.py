"""openai-whisper (PyTorch): a second engine, installed with the ``openai-whisper`` extra."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from audiotext.config import Settings
from audiotext.engine.base import (
    SAMPLE_RATE,
    Segment,
    TranscribeOptions,
    TranscriptInfo,
    Word,
    decoding_kwargs,
)
from audiotext.engine.models import ModelManager
from audiotext.jobs.errors import EngineError

if TYPE_CHECKING:
    from audiotext.engine.base import Audio


def available() -> bool:
    try:
        import whisper  # noqa: F401
    except ImportError:
        return False
    return True


class OpenAIWhisperEngine:
    name = "openai-whisper"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.models = ModelManager(settings.model_ttl_seconds)

    def _load(self, model: str) -> Any:
        try:
            import whisper
        except ImportError as exc:
            raise EngineError(
                "openai-whisper is not installed (install audiotext[openai-whisper])"
            ) from exc
        return whisper.load_model(
            model,
            device="cuda" if self.settings.device == "cuda" else "cpu",
            download_root=str(self.settings.model_dir) if self.settings.model_dir else None,
        )

    def transcribe(
        self, audio: Audio, options: TranscribeOptions
    ) -> tuple[Iterator[Segment], TranscriptInfo]:
        kwargs = decoding_kwargs(options)
        kwargs["fp16"] = self.settings.device == "cuda"
        if options.hotwords:
            # openai-whisper has no hotwords: they go where faster-whisper puts them, in the
            # prompt the decoder is primed with.
            kwargs["initial_prompt"] = " ".join(filter(None, (options.hotwords, options.prompt)))
        # openai-whisper decodes the whole file at once; segments come out together.
        with self.models.use(options.model, self._load) as model:
            result = model.transcribe(audio, **kwargs)
        segments = [
            Segment(
                id=i,
                start=round(float(s["start"]), 3),
                end=round(float(s["end"]), 3),
                text=s["text"],
                words=[
                    Word(
                        start=round(float(w["start"]), 3),
                        end=round(float(w["end"]), 3),
                        word=w["word"],
                        probability=round(float(w.get("probability", 0.0)), 4),
                    )
                    for w in s.get("words", [])
                ],
                avg_logprob=float(s.get("avg_logprob", 0.0)),
                no_speech_prob=float(s.get("no_speech_prob", 0.0)),
                temperature=float(s.get("temperature", 0.0)),
                tokens=[int(t) for t in s.get("tokens", [])],
                compression_ratio=round(float(s.get("compression_ratio", 0.0)), 3),
            )
            for i, s in enumerate(result["segments"])
        ]
        info = TranscriptInfo(
            language=result.get("language") or options.language or "",
            language_probability=1.0,
            duration=len(audio) / SAMPLE_RATE,
        )
        return iter(segments), info
