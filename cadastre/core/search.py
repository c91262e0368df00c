"""What a registration clerk types into search, read the way it is meant: clerks type what is on paper.

- a code, whole or its start, as the project prints it (``141031 001002 GB00001``) or in full-width characters: the
  blanks and widths are folded away; a complete 19- or 28-character code is *exact* (its parcel or unit opens);
- words (``隰县 府前街``): every word must match, in any order, full-width digits folded (``府前街２号``);
- a room at the end (``1-101``, ``1单元101室``, ``101``) after a building's name or a 坐落 (``龙泉苑1号楼1-101``), or alone.

>>> parse_query("141031 001002 ＧＢ00001").code
'141031001002GB00001'
>>> q = parse_query("龙泉苑1号楼1-101"); (q.words, q.room, q.unit)
(('龙泉苑1号楼',), '101', '1')
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["SearchQuery", "parse_query", "room_labels"]

_CODE = re.compile(r"[0-9A-Z]{6,28}")
# a room label at the end: 1-101 / 1单元101室 / 1-1-101 (幢-单元-室) / 101室 / B101; after a name, or alone
_ROOM = re.compile(r"(?:(?P<unit>[0-9]{1,2})(?:-|单元))?(?P<room>[Bb]?[0-9]{2,5})室?$")
_ROOM_ALONE = re.compile(r"(?:[0-9]{1,2}-(?=[0-9]{1,2}(?:-|单元)))?(?:(?P<unit>[0-9]{1,2})(?:-|单元))?(?P<room>[Bb]?[0-9]{3,5})室?")


@dataclass(frozen=True)
class SearchQuery:
    text: str  # as folded: full-width to half-width, blanks collapsed
    code: str | None = None  # a code or the start of one, blanks removed
    exact: bool = False  # a complete 宗地代码 (19) or 不动产单元代码 (28)
    words: tuple[str, ...] = ()  # every one must match 坐落 or a building's name
    room: str | None = None  # 室号 without its 单元 (``101``), leading zeros removed
    unit: str | None = None  # 单元号 when the room gave one


def _fold(text: str) -> str:
    """Full-width letters, digits and punctuation to half-width (NFKC), blanks collapsed, control characters (a
    NUL ends an FTS5 query string) read as blanks.

    >>> _fold("府前街２号" + chr(0) + "  1-101")
    '府前街2号 1-101'
    """
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in unicodedata.normalize("NFKC", text))
    return " ".join(text.split())


def parse_query(text: str) -> SearchQuery:
    folded = _fold(text or "")
    compact = folded.replace(" ", "").upper()
    if _CODE.fullmatch(compact) and compact[:6].isdigit():
        return SearchQuery(folded, code=compact, exact=len(compact) in (19, 28))
    alone = _ROOM_ALONE.fullmatch(compact)
    if alone:
        return SearchQuery(folded, room=_number(alone["room"]), unit=_number(alone["unit"]))
    words = folded.split(" ")
    room = unit = None
    separate = _ROOM_ALONE.fullmatch(words[-1].upper()) if len(words) > 1 else None
    if separate:  # "龙泉苑2号楼 2-602"
        return SearchQuery(folded, words=tuple(words[:-1]), room=_number(separate["room"]),
                           unit=_number(separate["unit"]))
    last = _ROOM.search(words[-1])
    # a room ends the last word and follows a name ("龙泉苑1号楼1-101"): the name must not end in a digit then,
    # or "府前街2号" would be read as a room
    if last and last.start() > 0 and not words[-1][last.start() - 1].isdigit():
        stem = words[-1][:last.start()]
        if not stem.endswith(("街", "路", "道", "巷", "号")) or last["unit"]:
            room, unit = _number(last["room"]), _number(last["unit"])
            words[-1] = stem
    return SearchQuery(folded, words=tuple(w for w in words if w), room=room, unit=unit)


def _number(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.upper()
    return (value.lstrip("0") or "0") if value.isdigit() else value


def room_labels(query: SearchQuery) -> tuple[list[str], list[str]]:
    """The 室号部位 strings a unit of ``query``'s room may be stored as: (labels naming the 单元 too, labels to match
    with the unit's 单元号 ``query.unit``). Surveyors write 1-101, 1单元101室, 0101, 101室."""
    if query.room is None:
        return [], []
    r = query.room
    plain = [r, f"0{r}", f"{r}室"]
    if query.unit is None:
        return plain, []
    u = query.unit
    return [f"{u}-{r}", f"{u}-0{r}", f"{u}单元{r}", f"{u}单元{r}室", f"0{u}-{r}"], plain
