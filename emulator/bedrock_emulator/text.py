"""Deterministic stand-ins for a model: token counts, an extractive summary, an embedding vector."""

import hashlib
import math
import random
import re

_TOKEN = re.compile(r"\w+|[^\w\s]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_SPEAKER = re.compile(r"^[A-Z][\w .'()-]{0,40}:\s+")
_WORD = re.compile(r"[a-z']+")
_STOPWORDS = frozenset(
    """a an and are as at be but by for from has have i in is it of on or so that the this to was we were with you
    your my me our can will would could please thank thanks yes no not do did just""".split()  # noqa: SIM905
)


def count_tokens(text: str) -> int:
    """Words and punctuation marks: close enough to a BPE count for accounting tests, and honest."""
    return len(_TOKEN.findall(text))


def truncate_tokens(text: str, limit: int) -> tuple[str, bool]:
    """The text cut to at most ``limit`` tokens; the flag says whether it was cut."""
    tokens = list(_TOKEN.finditer(text))
    if len(tokens) <= limit:
        return text, False
    if limit <= 0:
        return "", True
    return text[: tokens[limit - 1].end()], True


def summarize(text: str, sentences: int = 3) -> str:
    """Extractive summary: the sentences with the most distinct content words, in their order.

    An instruction followed by a blank line ("Summarize this call:\n\n<transcript>") is left out, and so are
    speaker labels ("Agent (Dana): "), so the summary reads as prose about the material.
    """
    _, _, material = text.rpartition("\n\n")
    parts = [_SPEAKER.sub("", p).strip() for line in material.splitlines() for p in _SENTENCE.split(line)]
    parts = [p for p in parts if p]

    def score(sentence: str) -> int:
        if sentence.endswith("?"):  # questions ask; they do not tell
            return 0
        return len({w for w in _WORD.findall(sentence.lower()) if len(w) > 3 and w not in _STOPWORDS})

    best = sorted(range(len(parts)), key=lambda i: (-score(parts[i]), i))[:sentences]
    return " ".join(parts[i] for i in sorted(best))


def embedding(text: str, dimensions: int, normalize: bool) -> list[float]:
    """A unit (or raw) vector seeded by the text: the same text always gives the same vector."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    vector = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    if normalize:
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        vector = [v / norm for v in vector]
    return [round(v, 7) for v in vector]
