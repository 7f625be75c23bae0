"""Split long text into retrieval chunks on sentence boundaries (Japanese 。！？ included)."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[。！？!?．])|(?<=\.)(?=\s)|\n+")

DEFAULT_MAX_CHARS = 400


def split_sentences(text: str) -> list[str]:
    """Sentences and lines, stripped, empty ones dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def chunk_text(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[str]:
    """Greedily pack whole sentences into chunks of at most `max_chars` characters.

    A sentence longer than `max_chars` is cut at the limit; short text stays one chunk.
    """
    text = text.strip()
    if len(text) <= max_chars:
        return [text] if text else []
    chunks: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        while len(sentence) > max_chars:
            if current:
                chunks.append(current)
                current = ""
            # Cut pieces are stripped: a cut at a space must not leave a blank or padded chunk.
            if piece := sentence[:max_chars].strip():
                chunks.append(piece)
            sentence = sentence[max_chars:].lstrip()
        if not sentence:
            continue
        joiner = "" if _is_cjk_end(current) else " "
        if current and len(current) + len(joiner) + len(sentence) > max_chars:
            chunks.append(current)
            current = sentence
        else:
            current = f"{current}{joiner}{sentence}" if current else sentence
    if current:
        chunks.append(current)
    return chunks


def _is_cjk_end(text: str) -> bool:
    return bool(text) and ord(text[-1]) > 0x2E7F
