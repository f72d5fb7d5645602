"""S3 adapter for the ObjectStore port: streams in and out in large chunks, so memory stays flat whatever the size
of an upload or of a line in it."""

import json
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from bbq.core.model.errors import ObjectMissing
from bbq.core.model.ports import Listed, ObjectRef, StoredObject

if TYPE_CHECKING:  # typed clients for mypy (boto3-stubs); Lambda needs none of it
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

_MISSING = {"NoSuchKey", "NoSuchVersion", "404", "NotFound", "PreconditionFailed", "412"}
READ_CHUNK = 8 * 1024**2
LIST_PAGE = 1000  # S3's largest listing page
# Multipart parts: S3 takes 5 MiB to 5 GiB each and at most 10,000 of them, so 16 MiB parts allow 160 GiB.
WRITE_PART = 16 * 1024**2
IN_FLIGHT = 2  # parts uploading while the next is filled: at most (IN_FLIGHT + 1) x WRITE_PART in memory


class S3Objects:
    def __init__(self, client: "S3Client") -> None:
        self._s3 = client

    def read(self, ref: ObjectRef) -> StoredObject:
        # Pin the exact upload the event named: a newer overwrite is its own event and its own file.
        try:
            if ref.version_id:
                response = self._s3.get_object(Bucket=ref.bucket, Key=ref.key, VersionId=ref.version_id)
            else:
                response = self._s3.get_object(Bucket=ref.bucket, Key=ref.key, IfMatch=f'"{ref.etag}"')
        except ClientError as exc:
            raise _translate(exc, ref.bucket, ref.key) from exc
        metadata = {name.lower(): value for name, value in response.get("Metadata", {}).items()}
        return StoredObject(metadata, _chunks(response["Body"]))

    def list_uploads(self, bucket: str, prefix: str, cursor: str | None) -> Iterator[tuple[list[Listed], str | None]]:
        markers = json.loads(cursor) if cursor else {}
        while True:
            page = self._s3.list_object_versions(Bucket=bucket, Prefix=prefix, MaxKeys=LIST_PAGE, **markers)
            current = [
                _listed({**version, "Bucket": bucket}) for version in page.get("Versions", []) if version["IsLatest"]
            ]
            if not page.get("IsTruncated"):
                yield current, None
                return
            markers = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
            yield current, json.dumps(markers)

    def read_key(self, bucket: str, key: str) -> Iterator[bytes]:
        try:
            response = self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            raise _translate(exc, bucket, key) from exc
        return _chunks(response["Body"])

    @contextmanager
    def writer(self, bucket: str, key: str) -> Iterator["_MultipartWriter"]:
        writer = _MultipartWriter(self._s3, bucket, key)
        try:
            yield writer
            writer.complete()
        except BaseException:
            writer.abort()  # nothing half-written is left, not even the parts of a multipart upload
            raise

    def resumable_writer(self, bucket: str, key: str, state: Mapping[str, object] | None) -> "_ResumableWriter":
        return _ResumableWriter(self._s3, bucket, key, state)

    def copy(self, bucket: str, source_key: str, key: str) -> None:
        # Managed copy: multipart above 8 MB, so parts past CopyObject's 5 GB limit copy too.
        try:
            self._s3.copy({"Bucket": bucket, "Key": source_key}, bucket, key)
        except ClientError as exc:  # the source is gone: its HeadObject answers 404
            raise _translate(exc, bucket, source_key) from exc

    def delete(self, bucket: str, key: str) -> None:
        self._s3.delete_object(Bucket=bucket, Key=key)

    def tag(self, bucket: str, key: str, tags: Mapping[str, str]) -> None:
        tagging = {"TagSet": [{"Key": name, "Value": value} for name, value in tags.items()]}
        try:
            self._s3.put_object_tagging(Bucket=bucket, Key=key, Tagging=tagging)  # type: ignore[arg-type]
        except ClientError as exc:
            if not isinstance(_translate(exc, bucket, key), ObjectMissing):
                raise

    def put_json(self, bucket: str, key: str, body: Mapping[str, object]) -> None:
        self._s3.put_object(
            Bucket=bucket, Key=key, Body=json.dumps(body, indent=2).encode(), ContentType="application/json"
        )


def _chunks(body: Any) -> Iterator[bytes]:
    with body:
        while chunk := body.read(READ_CHUNK):
            yield chunk


class _MultipartWriter:
    """Buffers up to one multipart part and uploads parts on a background thread while the caller goes on
    producing the next (at most ``IN_FLIGHT`` parts held at once); a small object is written with one PutObject."""

    def __init__(self, client: "S3Client", bucket: str, key: str) -> None:
        self._s3, self._bucket, self._key = client, bucket, key
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._upload_id: str | None = None
        self._parts: list[Future[CompletedPartTypeDef]] = []
        self._uploader: ThreadPoolExecutor | None = None

    def write(self, data: bytes) -> None:
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered >= WRITE_PART:
            self._flush()

    def _flush(self) -> None:
        if self._upload_id is None:
            self._upload_id = self._s3.create_multipart_upload(Bucket=self._bucket, Key=self._key)["UploadId"]
            self._uploader = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="s3-part")
        assert self._uploader is not None
        if len(self._parts) >= IN_FLIGHT:
            self._parts[-IN_FLIGHT].result()  # bounded memory: wait for the oldest part still in flight
        body, self._buffer, self._buffered = b"".join(self._buffer), [], 0
        self._parts.append(self._uploader.submit(self._upload_part, self._upload_id, len(self._parts) + 1, body))

    def _upload_part(self, upload_id: str, number: int, body: bytes) -> "CompletedPartTypeDef":
        response = self._s3.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=upload_id, PartNumber=number, Body=body
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

    def complete(self) -> None:
        if self._upload_id is None:
            self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=b"".join(self._buffer))
            return
        if self._buffer:
            self._flush()
        parts = [part.result() for part in self._parts]
        self._close_uploader()
        self._s3.complete_multipart_upload(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": parts}
        )

    def abort(self) -> None:
        self._close_uploader()
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)

    def _close_uploader(self) -> None:
        if self._uploader is not None:
            self._uploader.shutdown(wait=True, cancel_futures=True)
            self._uploader = None


class _ResumableWriter(_MultipartWriter):
    """A multipart upload carried on across invocations. At a checkpoint the parts in flight finish and the bytes
    not yet in a part (less than one) are stored under staged/joins/ (the bucket's lifecycle expires them there),
    named by their position in the object; the state names the upload, its parts and that object. Resumed, the
    writer takes those bytes back and numbers its next part after the state's: a part uploaded after the
    checkpoint is overwritten, and one the state does not name is left out when the upload completes."""

    def __init__(self, client: "S3Client", bucket: str, key: str, state: Mapping[str, Any] | None) -> None:
        super().__init__(client, bucket, key)
        self._written = 0  # bytes of the object so far, the pending ones included
        if not state:
            return
        self._upload_id = state["uploadId"]
        for part in state["parts"]:
            done: Future[CompletedPartTypeDef] = Future()
            done.set_result({"PartNumber": int(part["PartNumber"]), "ETag": str(part["ETag"])})
            self._parts.append(done)
        if self._upload_id is not None:
            self._uploader = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="s3-part")
        self._written = int(state["written"])
        if pending_key := state.get("pendingKey"):
            self._buffer = [self._s3.get_object(Bucket=bucket, Key=pending_key)["Body"].read()]
            self._buffered = len(self._buffer[0])

    def write(self, data: bytes) -> None:
        self._written += len(data)
        super().write(data)

    def checkpoint(self) -> dict[str, object]:
        parts = [part.result() for part in self._parts]
        pending = b"".join(self._buffer)
        self._buffer = [pending] if pending else []
        pending_key = f"staged/joins/{self._key}.pending-{self._written}" if pending else None
        if pending_key:
            self._s3.put_object(Bucket=self._bucket, Key=pending_key, Body=pending)
        return {"uploadId": self._upload_id, "parts": parts, "written": self._written, "pendingKey": pending_key}


def _listed(version: dict[str, Any]) -> Listed:
    # Unversioned objects list with the version id "null"; their events carry none, and ingest names them by ETag.
    version_id = version["VersionId"] if version.get("VersionId") not in (None, "null") else None
    ref = ObjectRef(version.get("Bucket", ""), version["Key"], version["ETag"].strip('"'), version["Size"], version_id)
    return Listed(ref, version["LastModified"])


def _translate(exc: ClientError, bucket: str, key: str) -> Exception:
    if exc.response.get("Error", {}).get("Code") in _MISSING:
        return ObjectMissing(f"s3://{bucket}/{key} no longer exists in the version the event named")
    return exc
