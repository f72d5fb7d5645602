"""What orjson would change in silence when a line is staged: a number it cannot hold as written (integers outside
64 bits become floats, 1e-400 becomes 0.0, digits past a double's precision are dropped) and a key that appears
twice in one object (the last one wins). Such a line is refused with a message rather than run as something the
user did not write.

Both checks cost little on ordinary lines: a walk of the parsed modelInput finds its floats (orjson reads every
non-integer, and every integer past 64 bits, as one), and a float written in its shortest form (0.7) stands in
the line as that very token; comparing the count of quote characters before and after staging finds a lost key.
Only the other lines are read again, with the standard library's parser, to say exactly what is wrong. (A string
that happens to hold a float's exact token beside a longer spelling of the same value could hide the longer one:
the value staged is the same double either way.)"""

import json
import math
from decimal import Decimal, InvalidOperation

import orjson

# orjson reads integers from -2**63 to 2**64 - 1 as integers, anything beyond as a float.
INT_RANGE = (-(2**63), 2**64 - 1)
# What may stand before and after a number in JSON (whitespace, or the structure around a value).
_BEFORE = frozenset(b" \t\r\n:[,")
_AFTER = frozenset(b" \t\r\n,]}")


class Unfaithful(ValueError):
    """The line would not be staged as written; the message says why, without the line's content."""


def check_numbers(data: bytes, model_input: object) -> None:
    found = _floats(model_input)
    if not found:
        return  # every number in it is an integer orjson holds exactly, and writes back as written
    if all(_tokens(data, orjson.dumps(value)) >= found.count(value) for value in set(found)):
        return  # each float written as its shortest form (0.7, 1e-05): staged as written
    _reread(data, parse_int=_int_as_written, parse_float=_float_as_written)


def _floats(value: object) -> list[float]:
    found: list[float] = []
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend(item.values())  # type: ignore[attr-defined]
        elif kind is list:
            stack.extend(item)  # type: ignore[arg-type]
        elif kind is float:
            found.append(item)  # type: ignore[arg-type]
    return found


def _tokens(data: bytes, text: bytes) -> int:
    """How often ``text`` stands in the line as a whole JSON number (between separators, not inside a longer one)."""
    count, start = 0, data.find(text)
    while start != -1:
        end = start + len(text)
        if (start == 0 or data[start - 1] in _BEFORE) and (end == len(data) or data[end] in _AFTER):
            count += 1
        start = data.find(text, start + 1)
    return count


def check_keys(data: bytes, staged_quotes: int, expected_overhead: int) -> None:
    """``staged_quotes`` is the count of ``"`` in what staging writes; a line with every key it had shows the
    same count less bbq's own (``expected_overhead``). Fewer means orjson dropped a key: say which."""
    if data.count(b'"') + expected_overhead == staged_quotes:
        return
    _reread(data, object_pairs_hook=_no_duplicates)


def _reread(data: bytes, **hooks: object) -> None:
    try:
        json.loads(data, **hooks)  # type: ignore[arg-type]
    except RecursionError:
        raise Unfaithful("the JSON is nested too deeply to be staged") from None


def _int_as_written(text: str) -> int:
    value = int(text)
    if not INT_RANGE[0] <= value <= INT_RANGE[1]:
        raise Unfaithful(
            f"the integer {_shown(text)} does not fit in 64 bits and would be changed; write it as a string"
        )
    return value


def _float_as_written(text: str) -> float:
    value = float(text)
    try:
        same = math.isfinite(value) and Decimal(text) == Decimal(repr(value))
    except InvalidOperation:
        same = False
    if not same:
        raise Unfaithful(
            f"the number {_shown(text)} cannot be kept exactly as a double and would be staged as {value!r}; "
            "write it as a string, or with fewer digits"
        )
    return value


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise Unfaithful(f"the key {_shown(key)} appears twice in one object; JSON readers keep only one of them")
        seen[key] = value
    return seen


def _shown(text: str) -> str:
    """A number or key named in a message, cut short: it is the user's data."""
    return repr(text if len(text) <= 40 else text[:37] + "...")
