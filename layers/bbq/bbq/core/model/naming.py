"""Deterministic names: the same S3 object always maps to the same JobId, job name and request token, so a
duplicated event or a retried run can never create a second job. And names Bedrock accepts: whatever key S3
accepts, what bbq hands Bedrock matches CreateModelInvocationJob's S3Uri pattern."""

import hashlib
import posixpath
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime

INPUT_PREFIX = "to-process/"
INPUT_SUFFIX = ".jsonl"  # matched without regard to case: .JSONL uploads are picked up too
TABLE_SUFFIXES = (".csv", ".parquet")  # tables, rendered with a prompt template at ingest
INPUT_SUFFIXES = (INPUT_SUFFIX, *TABLE_SUFFIXES)
OUTPUT_PREFIX = "processed/"
STAGED_PREFIX = "staged/"
ERROR_REPORT_SUFFIX = ".error.json"
IGNORED_NOTE_SUFFIX = ".ignored.json"
LATEST = "latest.json"
SEQUENCER_WIDTH = 64  # S3's sequencers are far shorter; padding makes them compare as S3 says

# Bedrock: jobName [a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}, at most 63 characters.
MAX_JOB_NAME = 63
JOB_ID_IN_NAME = 20  # hex characters of the JobId a job name carries: room for a 40-character stack prefix
# S3 keys are at most 1,024 bytes; Bedrock's S3Uri at most 1,024 characters.
MAX_KEY_BYTES = 1024
# Bedrock's S3Uri allows only these between single slashes (botocore's S3Uri shape; a test reads the model).
_UNSAFE = re.compile(r"[^-!_*'().a-zA-Z0-9]+")
# Bounds that keep every derived key and URI within S3's and Bedrock's limits, whatever the upload's key:
# processed/<path>/<upload tag>/<12-char Bedrock job id>/<staged name>.out stays under 1,024 bytes.
MAX_OUTPUT_PATH = 670
MAX_STAGED_NAME = 120
_TAG_CHARS = 10
FILE_TAG_CHARS = 10


# C0 and C1 control characters and DEL: S3 accepts them in keys; a log line or a report naming them could mislead.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def key_problem(key: str) -> str | None:
    """Why bbq never processes this key, or None for an upload it takes: a .jsonl, .csv or .parquet (any case of
    the suffix) under to-process/, with no "." or ".." folder, no control character and within S3's 1,024 bytes."""
    if not key.startswith(INPUT_PREFIX) or not key.lower().endswith(INPUT_SUFFIXES):
        return "not a .jsonl, .csv or .parquet file under to-process/"
    if any(folder in {".", ".."} for folder in key.split("/")[1:-1]):
        return "a '.' or '..' folder in the key"
    if _CONTROL.search(key):
        return "a control character in the key"
    if len(key.encode()) > MAX_KEY_BYTES:
        return f"a key over S3's {MAX_KEY_BYTES} bytes"
    return None


def is_input_key(key: str) -> bool:
    return key_problem(key) is None


def file_id_for(bucket: str, key: str, version: str) -> str:
    """The id of one upload; ``version`` is the S3 version id, or the ETag when unversioned."""
    return _digest(f"{bucket}\n{key}\n{version}")


_ETAG = re.compile(r"[0-9a-f]{32}(-\d+)?")


def is_etag(version: str) -> bool:
    """Whether a file's version is an ETag (hex MD5, "-<parts>" when multipart: an unversioned bucket) rather
    than an S3 version id."""
    return _ETAG.fullmatch(version) is not None


def job_id_for(part_ids: Sequence[str]) -> str:
    """The id of the job that carries exactly these parts: overlapping runs that plan the same job agree."""
    return _digest("\n".join(sorted(part_ids)))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def job_name(prefix: str, job_id: str, attempt: int) -> str:
    name = f"{prefix}-{job_id[:JOB_ID_IN_NAME]}-a{attempt}"
    if len(name) > MAX_JOB_NAME:
        raise ValueError(f"job name {name!r} is longer than {MAX_JOB_NAME} characters: shorten JobNamePrefix")
    return name


def client_request_token(job_id: str, attempt: int) -> str:
    """Bedrock's idempotency token: the same job and attempt always send the same token."""
    return f"{job_id}a{attempt}"


def safe_path(path: str, max_chars: int) -> str:
    """``path`` in the characters Bedrock's S3Uri allows: accents dropped (é -> e), any other run of unsafe
    characters (spaces, ``+``, ``=``, ``,``, other scripts) becomes ``-``, empty segments (``//``) go. Where that
    changed anything or the result is too long, a tag from the original path's hash is appended, so two keys
    that differ only in unsafe characters never share a place. A path that is already safe is kept as it is."""
    segments = [_safe_segment(segment) for segment in path.split("/")]
    safe = "/".join(segment for segment in segments if segment)
    if safe == path and len(safe) <= max_chars:
        return safe
    tag = hashlib.sha256(path.encode()).hexdigest()[:_TAG_CHARS]
    head = safe[: max_chars - _TAG_CHARS - 1].rstrip("/")
    return f"{head}-{tag}" if head else tag


def _safe_segment(segment: str) -> str:
    ascii_only = unicodedata.normalize("NFKD", segment).encode("ascii", "ignore").decode()
    return _UNSAFE.sub("-", ascii_only)


def _stem(key: str) -> str:
    """The key under to-process/ without its .jsonl suffix (kept when written in another case, so calls.jsonl
    and calls.JSONL never share a place)."""
    relative = key.removeprefix(INPUT_PREFIX)
    return relative.removesuffix(INPUT_SUFFIX)


def key_place(source_key: str) -> str:
    """The key's folder under processed/: its path under to-process/ without .jsonl, in safe characters (see
    ``safe_path``). Each upload of the key has a place of its own below it, and ``latest.json`` beside them."""
    # A key with no name before .jsonl (to-process/.jsonl) still gets a place of its own, never processed//.
    place = safe_path(_stem(source_key), MAX_OUTPUT_PATH) or "unnamed-" + _digest(source_key)[:_TAG_CHARS]
    return f"{OUTPUT_PREFIX}{place}/"


def upload_tag(created_at: datetime, file_id: str) -> str:
    """One upload's folder name: when it was taken in, and its file id (unique), readable and in time order."""
    return f"{created_at:%Y%m%dT%H%M%SZ}-{file_id[:FILE_TAG_CHARS]}"


def output_uri_for(bucket: str, source_key: str, upload: str) -> str:
    """Where one upload's results go: processed/<key's place>/<upload tag>/. No other upload shares it (the same
    key uploaded again gets a place of its own); Bedrock adds ``<bedrock job id>/<file name>.out`` below it."""
    return f"s3://{bucket}/{key_place(source_key)}{upload}/"


def latest_key(source_key: str) -> str:
    """The pointer to the newest upload of the key that has ended (processed/<key's place>/latest.json)."""
    return f"{key_place(source_key)}{LATEST}"


def sequencer_order(sequencer: str) -> str:
    """S3's event sequencer made comparable: for one key, the greater hexadecimal value is the later event, and
    sequencers of different lengths compare after the shorter is right-padded with zeros (S3 User Guide, "Event
    message structure"). Padded to a fixed width here, so plain string order is that order."""
    return sequencer.upper().ljust(SEQUENCER_WIDTH, "0")


def staged_prefix(file_id: str) -> str:
    return f"{STAGED_PREFIX}{file_id}/"


def part_key(file_id: str, source_key: str, index: int) -> str:
    """A validated part of an upload, as Bedrock reads it: an overwrite of the original cannot change it.

    It is named after the upload (Bedrock names its output ``<file>.jsonl.out``), in safe characters.
    """
    base = posixpath.basename(source_key)
    stem = base[: -len(INPUT_SUFFIX)] if base.lower().endswith(INPUT_SUFFIX) else base
    name = safe_path(stem, MAX_STAGED_NAME) or "input"
    return f"{staged_prefix(file_id)}{name}-p{index:05d}{INPUT_SUFFIX}"


def attempt_key(file_id: str, staged_key: str, attempt: int) -> str:
    """A part's next attempt (its records that go again): ``staged/retries/<FileId>/<name>-p00003-a2.jsonl``. Not
    under the file's staged folder, which a job carrying all of the file's first parts reads whole."""
    name = re.sub(r"-a\d+$", "", posixpath.basename(staged_key).removesuffix(INPUT_SUFFIX))
    return f"{STAGED_PREFIX}retries/{file_id}/{name}-a{attempt}{INPUT_SUFFIX}"


def rows_key(file_id: str) -> str:
    """A table upload as rendered at ingest (line n is row n): its records' ids and columns, for the results. Not
    under the file's staged folder, which a job carrying all of the file's first parts reads whole."""
    return f"{STAGED_PREFIX}rows/{file_id}.jsonl"


def failures_key(file_id: str, part_id: str) -> str:
    """The records of a part that failed for good, one JSON line each; the file's report gathers them."""
    return f"{STAGED_PREFIX}failures/{file_id}/{part_id}.jsonl"


def file_report_uri(output_uri: str, file_id: str) -> str:
    """The report of a file that ended, next to its results; tagged with the upload, since a re-upload of the same
    key shares the results place."""
    return f"{output_uri}bbq-report-{file_tag(file_id)}.json"


def packed_input_prefix(job_id: str) -> str:
    """The input of a job that carries parts of several files (or some parts of one): copies of its parts."""
    return f"{STAGED_PREFIX}jobs/{job_id}/"


def file_tag(file_id: str) -> str:
    """A file's short tag where several files meet (a packed job's input names, bbq's record ids): 40 bits of
    its id, so files in one job (at most 99) never share one in practice."""
    return file_id[:FILE_TAG_CHARS]


def packed_input_name(file_id: str, part_key: str) -> str:
    """A part's file name in a packed job's input: tagged with its file, so two ``calls.jsonl`` uploaded to
    different folders never share a name (nor an output file) in one job."""
    return f"{file_tag(file_id)}-{posixpath.basename(part_key)}"


def results_uri(output_uri: str, job_arn: str | None, input_name: str) -> str:
    """Where Bedrock writes the results of one input file of a job: ``<output>/<job id>/<name>.out`` (the job id
    is the last segment of its ARN). With no ARN (a job run on demand), ``<output>/<name>.out``."""
    folder = f"{job_arn.rsplit('/', 1)[-1]}/" if job_arn else ""
    return f"{output_uri}{folder}{input_name}.out"


def packed_output_uri(bucket: str, job_id: str) -> str:
    return f"s3://{bucket}/{OUTPUT_PREFIX}_packed/{job_id}/"


def error_report_key(source_key: str) -> str:
    """The error report next to a rejected file (its suffix does not retrigger ingest). For a key near S3's
    1,024-byte limit the name is shortened, with a tag from the key's hash, so the report can still be written."""
    report = source_key + ERROR_REPORT_SUFFIX
    if len(report.encode()) <= MAX_KEY_BYTES:
        return report
    tag = "-" + hashlib.sha256(source_key.encode()).hexdigest()[:_TAG_CHARS] + ERROR_REPORT_SUFFIX
    head = source_key.encode()[: MAX_KEY_BYTES - len(tag)].decode("utf-8", "ignore")
    return head + tag


def ignored_note_key(source_key: str) -> str | None:
    """Where the sweeper says why it ignores an upload under to-process/ that is not a .jsonl (None for bbq's own
    reports and notes, and for a key too long to take the suffix)."""
    if source_key.endswith((ERROR_REPORT_SUFFIX, IGNORED_NOTE_SUFFIX)) or not source_key.startswith(INPUT_PREFIX):
        return None
    note = source_key + IGNORED_NOTE_SUFFIX
    return note if len(note.encode()) <= MAX_KEY_BYTES else None


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def split_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of an s3:// URI."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key
