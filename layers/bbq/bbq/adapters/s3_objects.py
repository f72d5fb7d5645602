"""S3 adapter for the ObjectStore port."""

import json
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from bbq.core.errors import ObjectMissing
from bbq.core.ports import ObjectRef

_MISSING = {"NoSuchKey", "NoSuchVersion", "404", "NotFound", "PreconditionFailed", "412"}


class S3Objects:
    def __init__(self, client: Any) -> None:
        self._s3 = client

    def iter_lines(self, ref: ObjectRef) -> Iterator[bytes]:
        # Pin the exact upload the event named: a newer overwrite is its own event and its own job.
        pin = {"VersionId": ref.version_id} if ref.version_id else {"IfMatch": f'"{ref.etag}"'}
        try:
            body = self._s3.get_object(Bucket=ref.bucket, Key=ref.key, **pin)["Body"]
        except ClientError as exc:
            raise _translate(exc, ref.bucket, ref.key) from exc
        yield from body.iter_lines(keepends=True)

    def copy(self, ref: ObjectRef, key: str) -> None:
        source: dict[str, str] = {"Bucket": ref.bucket, "Key": ref.key}
        # The upload's tags are not copied: copying them needs s3:GetObjectTagging and s3:PutObjectTagging, and
        # Bedrock has no use for them.
        extra = {"TaggingDirective": "REPLACE"}
        if ref.version_id:
            source["VersionId"] = ref.version_id
        else:
            extra["CopySourceIfMatch"] = f'"{ref.etag}"'
        try:
            # Managed copy: multipart above 8 MB, so files past CopyObject's 5 GB limit copy too.
            self._s3.copy(source, ref.bucket, key, ExtraArgs=extra)
        except ClientError as exc:
            raise _translate(exc, ref.bucket, ref.key) from exc

    def put_json(self, bucket: str, key: str, body: Mapping[str, object]) -> None:
        self._s3.put_object(
            Bucket=bucket, Key=key, Body=json.dumps(body, indent=2).encode(), ContentType="application/json"
        )


def _translate(exc: ClientError, bucket: str, key: str) -> Exception:
    if exc.response.get("Error", {}).get("Code") in _MISSING:
        return ObjectMissing(f"s3://{bucket}/{key} no longer exists in the version the event named")
    return exc
