"""The transcripts of a sharded job's pods, one per shard, kept in storage until the operator
stitches them into the job's transcript (once every shard is in), then removed."""

from __future__ import annotations

import json

from audiotext.engine import Transcript
from audiotext.sharding import Shard
from audiotext.storage.base import ObjectStorage


def shard_key(job_id: str, index: int) -> str:
    return f"transcripts/{job_id}/shards/{index}.json"


class ShardStore:
    def __init__(self, storage: ObjectStorage) -> None:
        self._storage = storage

    async def put(self, job_id: str, shard: Shard, part: Transcript) -> None:
        """Shard ``shard``'s transcript (its own times) and where it lies in the recording."""
        body = {"start": shard.start, "end": shard.end, "transcript": part.to_dict()}
        data = json.dumps(body, ensure_ascii=False).encode()
        await self._storage.put_bytes(shard_key(job_id, shard.index), data, "application/json")

    async def stored(self, job_id: str, count: int) -> list[int]:
        """The shards (of ``count``) whose transcript is in."""
        return [i for i in range(count) if await self._storage.size(shard_key(job_id, i))]

    async def parts(self, job_id: str, count: int) -> tuple[list[Shard], list[Transcript]]:
        """Every shard and its transcript, in order (``ObjectNotFound`` where one is missing)."""
        shards, parts = [], []
        for index in range(count):
            body = json.loads(await self._storage.get_bytes(shard_key(job_id, index)))
            shards.append(Shard(index, float(body["start"]), float(body["end"])))
            parts.append(Transcript.from_dict(body["transcript"]))
        return shards, parts

    async def remove(self, job_id: str, count: int) -> None:
        for index in range(count):
            await self._storage.delete(shard_key(job_id, index))
