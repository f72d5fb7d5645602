"""bbq's record ids: ``<10 hex of the file id>L<line>``, unambiguous in a job that packs several files, and naming
the exact line of the upload each record came from. Staged lines start with it, so it is read back unparsed."""

import re

from bbq.core.model import naming


def staged_record_id(file_id: str, line: int) -> str:
    return f"{record_id_prefix(file_id)}{line}"


# A staged line starts with bbq's record id (orjson keeps key order): it is read back without parsing the input.
_STAGED_ID = re.compile(rb'^\{"recordId":"([^"]{1,64})"')


def record_id_of_staged(data: bytes) -> str:
    match = _STAGED_ID.match(data)
    if match is None:
        raise ValueError("not a staged record: bbq writes each staged line starting with its recordId")
    return match.group(1).decode()


def line_of(record_id: str) -> int | None:
    """The upload's line a bbq record id names, or None when it is not one of bbq's."""
    _, marker, line = record_id.partition("L")
    return int(line) if marker and line.isdigit() else None


def record_id_prefix(file_id: str) -> str:
    """What every record id of the file starts with."""
    return f"{naming.file_tag(file_id)}L"
