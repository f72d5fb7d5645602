"""processed/<key's place>/latest.json: which upload of a key is the newest that has ended, and where its results
are. Each upload's results live in a place of their own (``naming.output_uri_for``); people browsing S3 and
tools that want "the results of calls.jsonl" follow this pointer instead of guessing among them."""

from dataclasses import dataclass
from datetime import datetime

import orjson

from bbq.core.model import naming
from bbq.core.model.errors import ObjectMissing
from bbq.core.model.files import InputFile, newest_upload
from bbq.core.model.ports import ObjectStore


@dataclass(frozen=True)
class Named:
    """The upload the pointer names, as far as ordering uploads needs it."""

    file_id: str
    sequencer: str
    created_at: datetime
    version: str


def point_to(ended: InputFile, objects: ObjectStore) -> bool:
    """Points latest.json at the upload that just ended unless a newer upload of the key ended first (S3's
    sequencer decides). Read, then written: two uploads of one key ending in the same second may leave the older
    one named until the next end of an upload of the key; ``bbq results`` reads the table, not this."""
    key = naming.latest_key(ended.key)
    named = _named(objects, ended.bucket, key)
    this = Named(ended.file_id, ended.sequencer, ended.created_at, ended.version)
    if named is not None and named.file_id != ended.file_id and newest_upload([named, this]) is named:
        return False
    objects.put_json(
        ended.bucket,
        key,
        {
            "key": ended.key,
            "fileId": ended.file_id,
            "version": ended.version,
            "sequencer": ended.sequencer,
            "createdAt": ended.created_at.isoformat(),
            "status": ended.status.value,
            "results": ended.output_uri,
        },
    )
    return True


def _named(objects: ObjectStore, bucket: str, key: str) -> Named | None:
    try:
        body = orjson.loads(b"".join(objects.read_key(bucket, key)))
        return Named(
            str(body["fileId"]),
            str(body.get("sequencer") or ""),
            datetime.fromisoformat(body["createdAt"]),
            str(body["version"]),
        )
    except (ObjectMissing, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None  # none yet, or not one bbq wrote: this upload's pointer replaces it
