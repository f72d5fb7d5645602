"""Cutting a byte stream into lines in time linear in its size, whatever the length of a line.

botocore's ``StreamingBody.iter_lines`` reads 1 KiB at a time and joins as it goes, which is quadratic in the
length of a line (a 16 MB image record takes over a minute). Here the stream is read in large chunks, each
line's pieces are joined once, and a line longer than ``max_line_bytes`` is counted but never held in memory.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Line:
    number: int  # 1-based, as an editor shows it
    data: bytes | None  # without its line ending; None when the line is longer than the limit (then dropped)
    size: int  # bytes on disk, line ending included


def split_lines(chunks: Iterable[bytes], max_line_bytes: int) -> Iterator[Line]:
    pieces: list[bytes] = []  # the current line so far, while it is under the limit
    length = 0  # bytes of the current line so far
    number = 1
    first = True
    for chunk in chunks:
        if first and chunk:
            chunk = chunk.removeprefix(BOM)  # a UTF-8 byte order mark before the first line is tolerated
            first = False
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            piece = chunk[start:end]
            yield _line(number, pieces, piece, length + len(piece), max_line_bytes, ending=1)
            number += 1
            pieces, length, start = [], 0, end + 1
        rest = chunk[start:]
        length += len(rest)
        if length <= max_line_bytes:
            pieces.append(rest)
        else:
            pieces.clear()
    if length:
        yield _line(number, pieces, b"", length, max_line_bytes, ending=0)


def _line(number: int, pieces: list[bytes], last: bytes, length: int, max_line_bytes: int, ending: int) -> Line:
    if length > max_line_bytes:
        return Line(number, None, length + ending)
    data = b"".join([*pieces, last]) if pieces else last
    return Line(number, data.removesuffix(b"\r"), length + ending)
