"""CJK Radicals Supplement characters that stand for whole kanji, folded to those kanji.

Japanese PDFs often map glyphs to these radical forms (⺠ in 国⺠, ⻑ in 社⻑): they look
right on screen but NFKC leaves them alone (unlike the Kangxi radicals ⽇ → 日), so
「国民」 found nothing. Only forms that are the whole character are folded; shapes that
exist only as part of a kanji (⺅ 亻, ⻖ 阝) are left as they are.
"""

from __future__ import annotations

RADICAL_FOLDS: dict[str, str] = {
    "⺜": "日", "⺝": "月", "⺟": "母", "⺠": "民", "⺩": "王", "⺮": "竹", "⺯": "糸",
    "⺶": "羊", "⻁": "虎", "⻄": "西", "⻆": "角", "⻑": "長", "⻘": "青", "⻝": "食",
    "⻣": "骨", "⻤": "鬼", "⻨": "麦", "⻩": "黄", "⻫": "斉", "⻭": "歯", "⻯": "竜",
    "⻲": "亀",
}
_TABLE = str.maketrans(RADICAL_FOLDS)


def fold_radicals(text: str) -> str:
    """`text` with radical forms of whole kanji replaced by the kanji (one for one)."""
    return text.translate(_TABLE)
