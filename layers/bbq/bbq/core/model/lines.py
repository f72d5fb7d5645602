"""Cutting a byte stream into lines in time linear in its size, whatever the length of a line.

botocore's ``StreamingBody.iter_lines`` reads 1 KiB at a time and joins as it goes, which is quadratic in the
length of a line (a 16 MB image record takes over a minute). Here the stream is read in large chunks, each
line's pieces are joined once, and a line longer than ``max_line_bytes`` is counted but never held in memory.
"""

from collections.abc import Iterable, Iterator
from typing import NamedTuple

BOM = b"\xef\xbb\xbf"


class Line(NamedTuple):
    number: int  # 1-based, as an editor shows it
    data: bytes | None  # without its line ending; None when the line is longer than the limit (then dropped)
    size: int  # bytes on disk, line ending included


def split_lines(chunks: Iterable[bytes], max_line_bytes: int) -> Iterator[Line]:
    """Each chunk is split at C speed; a line that spans chunks is joined once, or only counted if too long."""
    carry: list[bytes] = []  # the start of a line that spans chunks, while it is under the limit
    carried = 0  # bytes of that line so far (counted even once it is over the limit and no longer kept)
    number = 0
    first = True
    for chunk in chunks:
        if first and chunk:
            chunk = chunk.removeprefix(BOM)  # a UTF-8 byte order mark before the first line is tolerated
            first = False
        pieces = chunk.split(b"\n")
        rest = pieces.pop()  # after the chunk's last newline: the start of a line that goes on
        for piece in pieces:
            number += 1
            # The limit counts the line without its ending, LF or CRLF alike: one byte more is kept for a CR.
            if carried:
                length = carried + len(piece)
                data = b"".join((*carry, piece)) if length <= max_line_bytes + 1 else None
                carry, carried = [], 0
            else:
                length = len(piece)
                data = piece if length <= max_line_bytes + 1 else None
            yield Line(number, _within(data, max_line_bytes), length + 1)
        if rest:
            carried += len(rest)
            if carried <= max_line_bytes + 1:
                carry.append(rest)
            else:
                carry = []
    if carried:
        data = b"".join(carry) if carried <= max_line_bytes + 1 else None
        yield Line(number + 1, _within(data, max_line_bytes), carried)


def _within(data: bytes | None, max_line_bytes: int) -> bytes | None:
    """The line without a final CR, or None when it is still over the limit."""
    if data is not None and data.endswith(b"\r"):
        data = data[:-1]
    return data if data is not None and len(data) <= max_line_bytes else None
