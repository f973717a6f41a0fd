"""The transcripts of a sharded job's pods, one per shard, kept in storage until the operator
stitches them into the job's transcript (once every shard is in), then removed."""

from __future__ import annotations

import json
from dataclasses import dataclass

from audiotext.diarization.reconcile import Voices
from audiotext.engine import Transcript
from audiotext.sharding import Shard
from audiotext.storage.base import ObjectStorage


@dataclass
class StoredShards:
    shards: list[Shard]
    parts: list[Transcript]
    voices: list[Voices | None]  # None: not diarized

    def diarized_voices(self) -> list[Voices] | None:
        """The voices of every shard's speakers; None unless every shard was diarized."""
        if any(v is None for v in self.voices):
            return None
        return [v or {} for v in self.voices]


def shard_key(job_id: str, index: int) -> str:
    return f"transcripts/{job_id}/shards/{index}.json"


class ShardStore:
    def __init__(self, storage: ObjectStorage) -> None:
        self._storage = storage

    async def put(
        self, job_id: str, shard: Shard, part: Transcript, voices: Voices | None = None
    ) -> None:
        """Shard ``shard``'s transcript (its own times), where it lies in the recording, and
        the voices of its speakers when it was diarized."""
        body = {"start": shard.start, "end": shard.end, "transcript": part.to_dict()}
        if voices is not None:
            body["voices"] = voices
        data = json.dumps(body, ensure_ascii=False).encode()
        await self._storage.put_bytes(shard_key(job_id, shard.index), data, "application/json")

    async def stored(self, job_id: str, count: int) -> list[int]:
        """The shards (of ``count``) whose transcript is in."""
        return [i for i in range(count) if await self._storage.size(shard_key(job_id, i))]

    async def parts(self, job_id: str, count: int) -> StoredShards:
        """Every shard and its transcript, in order (``ObjectNotFound`` where one is missing)."""
        stored = StoredShards([], [], [])
        for index in range(count):
            body = json.loads(await self._storage.get_bytes(shard_key(job_id, index)))
            stored.shards.append(Shard(index, float(body["start"]), float(body["end"])))
            stored.parts.append(Transcript.from_dict(body["transcript"]))
            stored.voices.append(body.get("voices"))
        return stored

    async def remove(self, job_id: str, count: int) -> None:
        for index in range(count):
            await self._storage.delete(shard_key(job_id, index))
