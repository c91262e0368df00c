"""The registry's invariants as checks over plain data (``cadastre verify``; read by :mod:`cadastre.store.integrity`).

1. every original's bytes are there and match their SHA-256;
2. every issued code belongs to exactly one current row when it is current, and to no current row (but to at
   least one row of history) when it is retired; every code a current row carries was issued;
3. every numbering scope's high-water mark is at or above the highest serial issued in it, retired codes
   included (else the next allocation would hand out a code that exists);
4. no two current parcels on the same level (QLSDFS) overlap by more than the tolerance;
5. every accepted package left the rows it was accepted with.

Each problem is a :class:`Problem` naming what is wrong in Chinese, so an operator knows where to look.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import shapely

__all__ = ["Problem", "code_problems", "counter_problems", "overlap_problems", "package_problems", "CHECKS"]

#: the checks, in the order they run, with their Chinese names
CHECKS = {"originals": "原始文件校验和", "codes": "已发放代码与现势数据一一对应", "counters": "编码高水位",
          "overlaps": "现势宗地互不重叠", "packages": "已受理成果包的数据完整"}


@dataclass(frozen=True)
class Problem:
    check: str  # a key of CHECKS
    message: str  # Chinese, with the count
    items: list[str] = field(default_factory=list)  # what is wrong (codes, checksums, package ids), at most 20

    def to_dict(self) -> dict:
        return asdict(self)


def _items(values) -> list[str]:
    return [str(v) for v in list(values)[:20]]


def code_problems(issued: pd.DataFrame, uses: pd.DataFrame) -> list[Problem]:
    """``issued``: code, retired; ``uses``: code, current, land (one row per row carrying the code; ``land``: a
    parcel's land unit code, which stays on the current parcel when its buildings retire it). Codes a baseline lot
    issued from the old registry's table of every code (``issued["baseline"]``) need no rows of ours: the old
    system's history was not imported."""
    legacy = issued["baseline"].astype(bool) if "baseline" in issued else pd.Series(False, index=issued.index)
    on_current = uses[uses["current"].astype(bool)]
    current = on_current["code"].value_counts()
    anywhere = set(uses["code"])
    live = issued[~issued["retired"].astype(bool) & ~legacy]
    retired = issued[issued["retired"].astype(bool)]
    problems = []
    counts = live["code"].map(current).fillna(0).astype(int)
    if (counts == 0).any():
        lost = live["code"][counts == 0]
        problems.append(Problem("codes", f"{len(lost)} 个现势代码没有对应的现势宗地或户", _items(lost)))
    if (counts > 1).any():
        twice = live["code"][counts > 1]
        problems.append(Problem("codes", f"{len(twice)} 个代码同时属于多个现势宗地或户", _items(twice)))
    still = retired["code"][retired["code"].isin(set(on_current["code"][~on_current["land"].astype(bool)]))]
    if len(still):
        problems.append(Problem("codes", f"{len(still)} 个已注销的代码仍有现势宗地或户使用", _items(still)))
    ghost = retired["code"][~retired["code"].isin(anywhere) & ~legacy[retired.index]]
    if len(ghost):
        problems.append(Problem("codes", f"{len(ghost)} 个已注销的代码在历史数据中找不到", _items(ghost)))
    unissued = sorted(set(current.index) - set(issued["code"]))
    if unissued:
        problems.append(Problem("codes", f"{len(unissued)} 个现势宗地或户的代码不在已发放代码表中", _items(unissued)))
    return problems


def scopes_and_serials(codes: pd.Series) -> pd.DataFrame:
    """The numbering scope (the prefix a code is numbered within) and serial of every code: a 宗地代码 in its
    地籍子区 + 特征码, a building's 幢号 in its parcel (from its units' codes), a 户号 in its building, an L/Q serial
    in its parcel. Land-only codes (W) and 幢号 9999 are not numbered by the registry."""
    codes = codes.astype(str)
    parts = []
    parcel = codes[codes.str.len() == 19]
    parts.append(pd.DataFrame({"scope": parcel.str[:14], "serial": parcel.str[14:19]}))
    units = codes[codes.str.len() == 28]
    fixture = units.str[19]
    f = units[(fixture == "F") & (units.str[20:24] != "9999")]
    parts.append(pd.DataFrame({"scope": f.str[:20], "serial": f.str[20:24]}))
    parts.append(pd.DataFrame({"scope": f.str[:24], "serial": f.str[24:28]}))
    lq = units[fixture.isin(["L", "Q"])]
    parts.append(pd.DataFrame({"scope": lq.str[:20], "serial": lq.str[20:28]}))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[frame["serial"].str.isdigit()]
    return frame.assign(serial=frame["serial"].astype(int))


def counter_problems(issued: pd.DataFrame, marks: dict[str, int]) -> list[Problem]:
    """Scopes whose high-water mark (``marks``) is below the highest serial issued in them."""
    if issued.empty:
        return []
    highest = scopes_and_serials(issued["code"]).groupby("scope")["serial"].max()
    mark = highest.index.map(lambda s: marks.get(s, 0)).to_numpy()
    low = highest[mark < highest.to_numpy()]
    if not len(low):
        return []
    items = [f"{scope}：高水位 {marks.get(scope, 0)}，已发放至 {serial}" for scope, serial in low.items()]
    return [Problem("counters", f"{len(low)} 个编码范围的高水位低于已发放的最大序号：下次编码会重复发放", _items(items))]


def overlap_problems(parcels, tolerance: float) -> list[Problem]:
    """Current parcels (zddm, qlsdfs, geometry) of the same level overlapping by more than ``tolerance`` m². Legacy
    parcels (``baseline``) among themselves are left out: their overlaps and invalid outlines were recorded as
    warnings when the county's existing registry was imported."""
    if "baseline" in parcels:
        legacy = parcels["baseline"].astype(bool).to_numpy()
        if legacy.all():
            return []
    else:
        legacy = np.zeros(len(parcels), bool)
    if len(parcels) < 2:
        return []
    geoms = np.asarray(parcels.geometry.values, dtype=object)
    valid = shapely.is_valid(geoms)
    idx = np.flatnonzero(valid)
    left, right = shapely.STRtree(geoms[idx]).query(geoms[idx], predicate="intersects")
    keep = left < right
    left, right = idx[left[keep]], idx[right[keep]]
    ours = ~(legacy[left] & legacy[right])
    left, right = left[ours], right[ours]
    level = parcels["qlsdfs"].fillna("2").astype(str).to_numpy()
    same = level[left] == level[right]
    left, right = left[same], right[same]
    area = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    hit = area > tolerance
    codes = parcels["zddm"].to_numpy(object)
    items = [f"{codes[a]} 与 {codes[b]}：{s:.2f} ㎡" for a, b, s in zip(left[hit], right[hit], area[hit], strict=True)]
    problems = []
    if items:
        problems.append(Problem("overlaps", f"{len(items)} 对现势宗地相互重叠", _items(items)))
    invalid = ~valid & ~legacy
    if invalid.any():
        problems.append(Problem("overlaps", f"{int(invalid.sum())} 个现势宗地几何无效，未能检查重叠",
                                _items(codes[invalid])))
    return problems


def package_problems(packages: pd.DataFrame) -> list[Problem]:
    """Accepted packages without the rows their stage leaves (parcels; buildings and units)."""
    packages = packages[packages["stage"] != "baseline"]  # a lot may carry codes only (its DYDM table)
    cadastral = packages["stage"] == "cadastral"
    missing = packages[(cadastral & (packages["parcels"] == 0))
                       | (~cadastral & ((packages["buildings"] == 0) | (packages["units"] == 0)))]
    if missing.empty:
        return []
    return [Problem("packages", f"{len(missing)} 个已受理的成果包在登记库中没有数据", _items(missing["id"]))]
