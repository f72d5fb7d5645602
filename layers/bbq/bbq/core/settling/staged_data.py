"""A file's staged data (its parts, retries, failure lists and packed-job copies under staged/) is kept for as
long as the file needs it: the bucket's lifecycle expires only objects tagged ``bbq-state=ended``, and they are
tagged when their file has ended (its results written). Age alone never removes what a waiting file needs."""

from bbq.core.model import naming
from bbq.core.model.files import InputFile, Part
from bbq.core.model.ports import ObjectStore

ENDED_TAG = {"bbq-state": "ended"}  # the template's lifecycle rule names this tag


def release(file: InputFile, parts: list[Part], objects: ObjectStore) -> int:
    """Tags every staged object of the ended file (a missing one is skipped); how many keys were tagged."""
    keys: dict[str, None] = {}
    for part in parts:
        keys[naming.split_uri(part.staged_uri)[1]] = None
        if part.failures_key:
            keys[part.failures_key] = None
        if part.job_id and part.input_name:  # its copy in a packed job's input folder, if it was copied
            keys[naming.packed_input_prefix(part.job_id) + part.input_name] = None
    if file.rows_uri:  # a table's rendered rows: the results have read them
        keys[naming.split_uri(file.rows_uri)[1]] = None
    for key in keys:
        objects.tag(file.bucket, key, ENDED_TAG)
    return len(keys)
