"""宗地代码 and 不动产单元代码 (GB/T 37346-2019) as typed values.

>>> code = UnitCode.parse("330110119001GB04246F00080003")
>>> code.county, code.djq, code.djzq, code.parcel_seq, code.building, code.unit
('330110', '119', '001', 4246, 8, 3)
>>> code.readable
'330110 119001 GB04246 F00080003'
>>> str(code.parcel_code)
'330110119001GB04246'
>>> UnitCode.parse("141031001002GA00001W00000000")
Traceback (most recent call last):
...
cadastre.core.errors.CodeError: 第14位：宗地类型 A（集体土地所有权宗地）只能与所有权 J 搭配，实际为 G (position 14: parcel type A pairs only with ownership J, got G)

Layout (1-based positions): county 1–6 · 地籍区 7–9 · 地籍子区 10–12 · 宗地特征码 13–14 · 宗地顺序号 15–19 ·
定着物特征码 20 · 定着物单元编号 21–28. The first 19 characters are the parcel code.

The letter tables and their pairings come from ``data/code-tables.toml`` (``ZDTZM_OWNERSHIP``, ``ZDTZM_TYPE``,
``DZWTZM``). For whole columns use :func:`unit_code_problems` / :func:`parcel_code_problems`, which validate with
one compiled pattern and explain only the rows that fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from cadastre.core import settings
from cadastre.core.codetables import table
from cadastre.core.errors import CodeError

__all__ = [
    "feature_codes",
    "explain",
    "EXPLAIN_LABELS",
    "ParcelCode",
    "UnitCode",
    "parcel_code_problems",
    "unit_code_problems",
    "PARCEL_CODE_LENGTH",
    "UNIT_CODE_LENGTH",
    "prefix_range",
]

PARCEL_CODE_LENGTH = 19
UNIT_CODE_LENGTH = 28
#: character counts of the groups of the readable form: county, 地籍区+子区, 特征码+顺序号, 定着物
READABLE_GROUPS = (6, 6, 7, 9)
MULTI_BUILDING = 9999  # 幢号 9999: a unit spanning several buildings (valid, never allocated automatically)


def _fail(text: str, position: int | None, zh: str, en: str) -> CodeError:
    where_zh = f"第{position}位：" if position else ""
    where_en = f"position {position}: " if position else ""
    return CodeError(where_zh + zh, where_en + en, text=text, position=position)


@cache
def _letters() -> tuple[dict[str, str], dict[str, str], dict[str, list[str]], dict[str, str]]:
    ownership = table("ZDTZM_OWNERSHIP")
    parcel_type = table("ZDTZM_TYPE")
    fixtures = table("DZWTZM")
    owners = {k: list(v) for k, v in dict(parcel_type.extra.get("owners", {})).items()}
    return dict(ownership.values), dict(parcel_type.values), owners, dict(fixtures.values)


def _normalise(text: object, length: int, what_zh: str, what_en: str) -> str:
    if text is None or (isinstance(text, float) and text != text):
        raise _fail("", None, f"{what_zh}为空", f"{what_en} is empty")
    if not isinstance(text, str):
        raise _fail(str(text), None, f"{what_zh}应为文本，实际为 {type(text).__name__}",
                    f"{what_en} must be text, got {type(text).__name__}")
    s = text.strip()
    if " " in s:
        parts = s.split()
        groups = READABLE_GROUPS[: len(parts)]
        if sum(groups) == length and [len(p) for p in parts] == list(groups):
            s = "".join(parts)
    if len(s) != length:
        raise _fail(text, None, f"{what_zh}应为{length}位，实际为{len(s)}位",
                    f"{what_en} must be {length} characters, got {len(s)}")
    return s


def _digits(s: str, start: int, end: int, what_zh: str, what_en: str) -> str:
    """Characters start..end (1-based, inclusive) must be ASCII digits."""
    part = s[start - 1:end]
    for i, ch in enumerate(part):
        if not ("0" <= ch <= "9"):
            raise _fail(s, start + i, f"{what_zh}应为数字，实际为“{ch}”",
                        f"{what_en} must be a digit, got {ch!r}")
    return part


def _letter(s: str, position: int, allowed: dict[str, str], what_zh: str, what_en: str) -> str:
    ch = s[position - 1]
    if ch in allowed:
        return ch
    if ch.upper() in allowed:
        raise _fail(s, position, f"{what_zh}应为大写字母 {ch.upper()}，实际为小写“{ch}”",
                    f"{what_en} must be upper case {ch.upper()}, got {ch!r}")
    choices = "、".join(allowed)
    raise _fail(s, position, f"{what_zh}“{ch}”无效（应为 {choices}）",
                f"{what_en} {ch!r} is not one of {', '.join(allowed)}")


@dataclass(frozen=True, slots=True, order=True)
class ParcelCode:
    """A 19-character 宗地代码: county + 地籍区 + 地籍子区 + 宗地特征码 + 宗地顺序号."""

    county: str
    djq: str
    djzq: str
    ownership: str
    parcel_type: str
    parcel_seq: int

    @classmethod
    def parse(cls, text: str, *, allow_provisional: bool = False) -> ParcelCode:
        """Parse and validate a parcel code; :class:`CodeError` says which position is wrong and why.

        ``allow_provisional`` accepts ``000`` as 地籍区/地籍子区 (a county setting; report it as a warning).
        """
        s = _normalise(text, PARCEL_CODE_LENGTH, "宗地代码", "parcel code")
        return cls._from_normalised(s, allow_provisional)

    @classmethod
    def _from_normalised(cls, s: str, allow_provisional: bool) -> ParcelCode:
        county = _digits(s, 1, 6, "县级行政区代码", "county code")
        if county[:2] == "00" or county[2:] == "0000":
            raise _fail(s, 1, f"县级行政区代码 {county} 不是县级代码", f"{county} is not a county-level code")
        djq = _digits(s, 7, 9, "地籍区代码", "cadastral district")
        djzq = _digits(s, 10, 12, "地籍子区代码", "cadastral sub-district")
        if not allow_provisional:
            if djq == "000":
                raise _fail(s, 7, "地籍区 000 为临时编码，本县未启用", "district 000 is a provisional code, not enabled")
            if djzq == "000":
                raise _fail(s, 10, "地籍子区 000 为临时编码，本县未启用",
                            "sub-district 000 is a provisional code, not enabled")
        ownerships, types, owners, _ = _letters()
        ownership = _letter(s, 13, ownerships, "宗地特征码所有权类型", "ownership letter")
        parcel_type = _letter(s, 14, types, "宗地特征码宗地类型", "parcel type letter")
        allowed = owners.get(parcel_type)
        if allowed and ownership not in allowed:
            raise _fail(
                s, 14,
                f"宗地类型 {parcel_type}（{types[parcel_type]}）只能与所有权 {'或'.join(allowed)} 搭配，实际为 {ownership}",
                f"parcel type {parcel_type} pairs only with ownership {' or '.join(allowed)}, got {ownership}",
            )
        seq = int(_digits(s, 15, 19, "宗地顺序号", "parcel sequence number"))
        if seq == 0:
            raise _fail(s, 15, "宗地顺序号不能为 00000", "parcel sequence number cannot be 00000")
        return cls(county, djq, djzq, ownership, parcel_type, seq)

    @property
    def feature_code(self) -> str:
        """宗地特征码, e.g. ``GB``."""
        return self.ownership + self.parcel_type

    @property
    def zoning_code(self) -> str:
        """The 12-digit 地籍子区代码 (county + 地籍区 + 地籍子区)."""
        return f"{self.county}{self.djq}{self.djzq}"

    @property
    def sequence_scope(self) -> str:
        """The 14-character prefix within which 宗地顺序号 is numbered (sub-district + 特征码)."""
        return self.zoning_code + self.feature_code

    @property
    def is_provisional(self) -> bool:
        return self.djq == "000" or self.djzq == "000"

    def land_unit(self) -> UnitCode:
        """The land-only unit code ``…W00000000`` of this parcel."""
        return UnitCode(self, "W", None, None, None)

    def building_unit(self, building: int, unit: int) -> UnitCode:
        """The unit code of 户 ``unit`` in 自然幢 ``building`` on this parcel (validated)."""
        return UnitCode.parse(f"{self}F{building:04d}{unit:04d}")

    @property
    def readable(self) -> str:
        s = str(self)
        return f"{s[:6]} {s[6:12]} {s[12:19]}"

    def __str__(self) -> str:
        return f"{self.county}{self.djq}{self.djzq}{self.ownership}{self.parcel_type}{self.parcel_seq:05d}"

    def __repr__(self) -> str:
        return f"ParcelCode('{self}')"


@dataclass(frozen=True, slots=True)
class UnitCode:
    """A 28-character 不动产单元代码: a :class:`ParcelCode` + 定着物特征码 + 定着物单元编号.

    ``building`` and ``unit`` (幢号, 户号) are set for fixture ``F``; ``serial`` for ``L`` and ``Q``; all three are
    None for the land-only fixture ``W``.
    """

    parcel_code: ParcelCode
    fixture: str
    building: int | None
    unit: int | None
    serial: int | None

    @classmethod
    def parse(cls, text: str, *, allow_provisional: bool = False) -> UnitCode:
        """Parse and validate a unit code; :class:`CodeError` says which position is wrong and why."""
        s = _normalise(text, UNIT_CODE_LENGTH, "不动产单元代码", "unit code")
        parcel = ParcelCode._from_normalised(s[:PARCEL_CODE_LENGTH], allow_provisional)
        try:
            return cls._fixture_part(parcel, s)
        except CodeError as e:  # report against the whole code
            raise CodeError(e.message_zh, e.message_en, text=s, position=e.position) from None

    @classmethod
    def _fixture_part(cls, parcel: ParcelCode, s: str) -> UnitCode:
        fixtures = _letters()[3]
        fixture = _letter(s, 20, fixtures, "定着物特征码", "fixture letter")
        number = _digits(s, 21, 28, "定着物单元编号", "fixture unit number")
        if fixture == "W":
            if number != "00000000":
                raise _fail(s, 21, f"定着物特征码 W（无定着物）的单元编号应为 00000000，实际为 {number}",
                            f"fixture W (land only) requires 00000000, got {number}")
            return cls(parcel, "W", None, None, None)
        if fixture == "F":
            building, unit = int(number[:4]), int(number[4:])
            if building == 0:
                raise _fail(s, 21, "幢号不能为 0000", "building number cannot be 0000")
            if unit == 0:
                raise _fail(s, 25, "户号不能为 0000", "unit number cannot be 0000")
            return cls(parcel, "F", building, unit, None)
        serial = int(number)
        if serial == 0:
            raise _fail(s, 21, f"定着物特征码 {fixture} 的单元编号不能为 00000000",
                        f"fixture {fixture} serial cannot be 00000000")
        return cls(parcel, fixture, None, None, serial)

    # parcel-level parts, so a unit code reads like the standard's table
    @property
    def county(self) -> str:
        return self.parcel_code.county

    @property
    def djq(self) -> str:
        return self.parcel_code.djq

    @property
    def djzq(self) -> str:
        return self.parcel_code.djzq

    @property
    def ownership(self) -> str:
        return self.parcel_code.ownership

    @property
    def parcel_type(self) -> str:
        return self.parcel_code.parcel_type

    @property
    def parcel_seq(self) -> int:
        return self.parcel_code.parcel_seq

    @property
    def fixture_number(self) -> str:
        """定着物单元编号 (positions 21–28)."""
        if self.fixture == "W":
            return "00000000"
        if self.fixture == "F":
            return f"{self.building:04d}{self.unit:04d}"
        return f"{self.serial:08d}"

    @property
    def building_code(self) -> str | None:
        """The 24-character building key (parcel code + ``F`` + 幢号), for ``F`` codes."""
        return f"{self.parcel_code}F{self.building:04d}" if self.fixture == "F" else None

    @property
    def spans_buildings(self) -> bool:
        """幢号 9999: a unit spanning several buildings."""
        return self.building == MULTI_BUILDING

    @property
    def readable(self) -> str:
        """The code with spaces between levels, as people read it: ``141031 001002 GB00017 F00030012``."""
        return f"{self.parcel_code.readable} {self.fixture}{self.fixture_number}"

    def __str__(self) -> str:
        return f"{self.parcel_code}{self.fixture}{self.fixture_number}"

    def __repr__(self) -> str:
        return f"UnitCode('{self}')"


# ---------------------------------------------------------------------------------------------------------------
# Whole-column validation


@cache
def _pattern(kind: str, allow_provisional: bool) -> re.Pattern[str]:
    ownerships, types, owners, _ = _letters()
    pairs = [o + t for t in types for o in ownerships if t not in owners or o in owners[t]]
    zone = r"\d{3}\d{3}" if allow_provisional else r"(?!000)\d{3}(?!000)\d{3}"
    parcel = rf"(?!00)\d{{2}}(?!0000)\d{{4}}{zone}(?:{'|'.join(pairs)})(?!00000)\d{{5}}"
    if kind == "parcel":
        return re.compile(parcel)
    fixture = r"(?:W00000000|F(?!0000)\d{4}(?!0000)\d{4}|[LQ](?!00000000)\d{8})"
    return re.compile(parcel + fixture)


def _problems(values: Iterable[object], kind: str, allow_provisional: bool) -> pd.Series:
    s = pd.Series(values if not isinstance(values, pd.Series) else values.to_numpy(), dtype=object)
    ok = s.map(lambda v: isinstance(v, str)).to_numpy(bool, copy=True)
    if ok.any():
        ok[ok] = s[ok].astype(str).str.fullmatch(_pattern(kind, allow_provisional)).to_numpy(bool)
    out = np.full(len(s), None, dtype=object)
    if not ok.all():  # only the failures are parsed, to explain them: each distinct value once (a legacy table's
        # empty codes are thousands of the same failure)
        which, failing = pd.factorize(s.to_numpy(object)[~ok], use_na_sentinel=False)
        out[~ok] = np.asarray([_reason(v, kind, allow_provisional) for v in failing], dtype=object)[which]
    return pd.Series(out, index=s.index, dtype=object)


def _reason(value: object, kind: str, allow_provisional: bool) -> str | None:
    try:
        (ParcelCode.parse if kind == "parcel" else UnitCode.parse)(value, allow_provisional=allow_provisional)
    except CodeError as e:
        return str(e)
    return None


def unit_code_problems(values: Iterable[object], *, allow_provisional: bool = False) -> pd.Series:
    """For each value: None when it is a valid 不动产单元代码, else the reason (Chinese and English).

    One compiled pattern checks the whole column; only failing rows are parsed to name the position.

    >>> unit_code_problems(["141031001002GB00017F00030012", "141031001002GB00000W00000000"]).tolist()
    [None, '第15位：宗地顺序号不能为 00000 (position 15: parcel sequence number cannot be 00000)']
    """
    return _problems(values, "unit", allow_provisional)


def parcel_code_problems(values: Iterable[object], *, allow_provisional: bool = False) -> pd.Series:
    """For each value: None when it is a valid 宗地代码, else the reason (see :func:`unit_code_problems`)."""
    return _problems(values, "parcel", allow_provisional)


def prefix_range(prefix: str) -> tuple[str, str]:
    """The key range ``[lo, hi)`` holding every code (digits and capital letters, at most 28 characters) that
    starts with ``prefix``, for ``code >= lo AND code < hi``: a B-tree index serves it where ``LIKE 'prefix%'``
    scans (SQLite's LIKE ignores case; PostgreSQL needs ``text_pattern_ops`` outside the C locale). The upper
    bound is made of ``Z`` rather than a punctuation mark, so it holds in locale collations too, which order
    digits before letters but skip punctuation.

    >>> prefix_range("141031001002GB")
    ('141031001002GB', '141031001002GBZZZZZZZZZZZZZZZ')
    """
    return prefix, prefix + "Z" * (UNIT_CODE_LENGTH + 1 - len(prefix))


#: the Chinese label of each level :func:`explain` returns, in reading order
EXPLAIN_LABELS = {"readable": "代码", "county": "县级行政区", "djq": "地籍区", "djzq": "地籍子区", "ownership": "所有权",
                  "parcel_type": "宗地类型", "parcel_seq": "宗地顺序号", "fixture": "定着物", "building": "幢号",
                  "unit": "户号", "serial": "定着物编号"}


def explain(code: str) -> dict:
    """A 宗地代码 (19 characters) or 不动产单元代码 (28) read level by level, with the names of the coded levels.

    >>> explain("141031001002GB00017F00030012")["parcel_type"], explain("141031001002GB00017")["county_name"]
    ('B 建设用地使用权宗地（地表）', '隰县')
    """
    compact = "".join(str(code).split())
    parsed = ParcelCode.parse(code) if len(compact) == PARCEL_CODE_LENGTH else UnitCode.parse(code)
    parcel = parsed if isinstance(parsed, ParcelCode) else parsed.parcel_code
    county = settings.counties().get(parcel.county)
    parts = {
        "code": str(parsed), "readable": parsed.readable, "county": parcel.county,
        "county_name": county.name if county else table("XZQH").name(parcel.county),
        "djq": parcel.djq, "djzq": parcel.djzq,
        "ownership": f"{parcel.ownership} {table('ZDTZM_OWNERSHIP').name(parcel.ownership)}",
        "parcel_type": f"{parcel.parcel_type} {table('ZDTZM_TYPE').name(parcel.parcel_type)}",
        "parcel_seq": parcel.parcel_seq,
    }
    if isinstance(parsed, UnitCode):
        parts["fixture"] = f"{parsed.fixture} {table('DZWTZM').name(parsed.fixture)}"
        parts.update(building=parsed.building, unit=parsed.unit, serial=parsed.serial)
    return parts


#: 权利设定方式 QLSDFS → the parcel-type letter of construction land at that level (地上, 地表, 地下)
_SETTING = {"1": "S", "2": "B", "3": "X"}


def feature_codes(parcels: pd.DataFrame) -> pd.Series:
    """宗地特征码 of each parcel: ZDTZM when given, else derived from QLLX / QLXZ / QLSDFS (NA when impossible)."""
    derivation = table("ZDTZM_DERIVATION").values
    given = parcels["ZDTZM"].astype("str").str.upper()
    rule = parcels["QLLX"].astype("str").map(derivation)
    ownership = parcels["QLXZ"].astype("str").str[0].map({"1": "G", "2": "J"})
    setting = parcels["QLSDFS"].astype("str").map(_SETTING).fillna("B")
    derived = rule.str[0].where(rule.str[0] != "?", ownership) + rule.str[1].where(rule.str[1] != "*", setting)
    return given.where(given.notna(), derived)
