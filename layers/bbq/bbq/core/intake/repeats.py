"""A second upload of the same bytes under the same key: skipped, so that the same records are not run and billed
twice, unless it asks to run again (object metadata ``bbq-force: true``; ``bbq submit --force``).

The same bytes: the same size and the same S3 ETag. S3 documents that an ETag "reflects changes only to the
contents of an object", so equal ETags of one key mean equal bytes (an MD5 for single-part uploads under SSE-S3,
a digest of the parts' MD5s for multipart ones). It is not always the other way round: a multipart upload cut into
other part sizes, or an object under SSE-KMS (whose ETag is not an MD5 of the data), may carry another ETag for the
same bytes, and then the upload runs again: bbq never skips different bytes, and may miss a repeat.
Only JSONL uploads are compared: a table rendered by ingest may meet another template (its folder's
``_template.txt`` or its metadata) and so other prompts."""

from collections.abc import Callable, Iterable, Mapping

from bbq.core.model import naming
from bbq.core.model.files import FileStatus, InputFile
from bbq.core.model.ports import ObjectRef

FORCE_METADATA = "bbq-force"
_YES = frozenset({"true", "yes", "1"})
# An earlier upload in one of these ran or is running: the same bytes again would be billed again. One that
# failed, was stopped, rejected or skipped did not run its records (or not all): the same bytes run again.
_RAN = frozenset({FileStatus.QUEUED, FileStatus.RUNNING, FileStatus.COMPLETED, FileStatus.PARTIALLY_COMPLETED})


def forced(metadata: Mapping[str, str]) -> bool:
    return metadata.get(FORCE_METADATA, "").strip().lower() in _YES


def ran_already(ref: ObjectRef, uploads: Callable[[], Iterable[InputFile]]) -> InputFile | None:
    """The earliest upload of ``ref``'s key with the same bytes that ran or is running, if there is one. The key's
    uploads (``uploads()``, a query) are read only for an upload that could repeat one."""
    if not ref.key.lower().endswith(naming.INPUT_SUFFIX) or not ref.etag:
        return None
    same = [
        upload
        for upload in uploads()
        if upload.status in _RAN and upload.etag == ref.etag and upload.size_bytes == ref.size
    ]
    return min(same, key=lambda upload: upload.created_at, default=None)


def skip_message(earlier: InputFile) -> str:
    where = f"its results: {earlier.results_uri}" if earlier.results_uri else "its results come when it ends"
    return (
        f"Skipped: these bytes ({earlier.size_bytes:,} bytes, the same ETag) ran under this key already, as upload "
        f"{earlier.version} of {earlier.created_at:%Y-%m-%d %H:%M} UTC ({earlier.status.value}; {where}), and "
        f"were not run or billed again. To run them again, upload with metadata {FORCE_METADATA}=true "
        "(bbq submit --force, or client.submit(..., force=True))"
    )
