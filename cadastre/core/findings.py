"""Findings: what every check returns, as rows of data (qa-and-planning.md "Findings").

A check returns a :class:`pandas.DataFrame` with the columns of :data:`COLUMNS` (build it with :func:`frame`, which
takes whole arrays so vectorised checks never loop per feature), or a list of :class:`Finding` for the few checks
that are naturally per-object. Reports, exit codes and the database all read these rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from cadastre.core.catalogue import CATALOGUE

__all__ = ["Finding", "COLUMNS", "SEVERITIES", "frame", "of_rule", "concat", "blocking", "records", "plain_columns",
           "lonlat", "lonlat_points"]

SEVERITIES = ("error", "warning", "info")
COLUMNS = ["rule", "severity", "layer", "feature", "message", "lon", "lat", "measured", "limit", "figures"]
_NUMBERS = ("lon", "lat", "measured", "limit")


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    layer: str
    feature: str | None
    message: str
    lon: float | None = None
    lat: float | None = None
    measured: float | None = None
    limit: float | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _column(value, n: int) -> np.ndarray:
    if value is None or np.isscalar(value):
        return np.full(n, value, dtype=object)
    arr = np.asarray(value, dtype=object)
    if arr.shape != (n,):
        raise ValueError(f"expected {n} values, got {arr.shape}")
    return arr


def frame(rule: str, severity: str, layer: str, features: Sequence | np.ndarray, messages: Sequence[str],
          *, lonlat: np.ndarray | None = None, measured=None, limit=None, figures=None) -> pd.DataFrame:
    """Findings of one rule for ``len(features)`` features at once.

    ``lonlat`` is an (n, 2) array of locations in lon/lat (see :func:`lonlat_points`); ``measured``, ``limit`` and
    ``figures`` are scalars or arrays of length n.
    """
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    n = len(features)
    lon = lat = np.full(n, np.nan)
    if lonlat is not None and n:
        lonlat = np.asarray(lonlat, dtype=float).reshape(n, 2)
        lon, lat = lonlat[:, 0], lonlat[:, 1]
    return pd.DataFrame({
        "rule": np.full(n, rule, dtype=object),
        "severity": np.full(n, severity, dtype=object),
        "layer": np.full(n, layer, dtype=object),
        "feature": _column(features, n),
        "message": _column(messages, n),
        "lon": lon,
        "lat": lat,
        "measured": pd.to_numeric(pd.Series(_column(measured, n)), errors="coerce").to_numpy(float),
        "limit": pd.to_numeric(pd.Series(_column(limit, n)), errors="coerce").to_numpy(float),
        "figures": _column(figures, n),
    })


def of_rule(rule: str, layer: str, features, messages, **kwargs) -> pd.DataFrame:
    """:func:`frame` with the severity the rule catalogue gives ``rule``."""
    return frame(rule, CATALOGUE[rule].severity, layer, features, messages, **kwargs)


def concat(parts: Iterable[pd.DataFrame | Sequence[Finding]]) -> pd.DataFrame:
    """One findings frame from frames and lists of :class:`Finding`, errors first."""
    frames = []
    for part in parts:
        if isinstance(part, pd.DataFrame):
            frames.append(part)
        elif part:
            frames.append(pd.DataFrame([f.to_dict() for f in part], columns=COLUMNS))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=float if c in ("lon", "lat", "measured", "limit") else object)
                             for c in COLUMNS})
    out = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)[COLUMNS]
    order = out["severity"].map({s: i for i, s in enumerate(SEVERITIES)})
    return out.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)


def blocking(findings: pd.DataFrame) -> pd.DataFrame:
    """The findings that block acceptance (errors)."""
    return findings[findings["severity"] == "error"]


def plain_columns(findings: pd.DataFrame, *, finite: bool = False) -> dict[str, list]:
    """The columns of a findings frame as lists of plain Python values, anything missing None (NaN, and with
    ``finite`` ±inf too, in the number columns; NaN as a feature or figures): what reports and the database take,
    built column by column (row by row, ``to_dict("records")`` costs 20 µs a finding: 60 000 warnings of a
    county's baseline, 1.2 s each time)."""
    out: dict[str, list] = {}
    for column in COLUMNS:
        if column in _NUMBERS:
            numbers = pd.to_numeric(findings[column], errors="coerce").to_numpy(float)
            values = numbers.astype(object)
            values[~np.isfinite(numbers) if finite else np.isnan(numbers)] = None
            out[column] = values.tolist()
        else:
            out[column] = [None if isinstance(v, float) and v != v else v for v in findings[column].tolist()]
    return out


def records(findings: pd.DataFrame) -> list[Finding]:
    """The rows of a findings frame as :class:`Finding` values (missing values None, figures ``{}``)."""
    columns = plain_columns(findings)
    return [Finding(**dict(row, figures=row["figures"] or {}))
            for row in (dict(zip(COLUMNS, values, strict=True)) for values in zip(*columns.values(), strict=True))]


@cache
def _to_wgs84(crs) -> Transformer:
    return Transformer.from_crs(crs, 4326, always_xy=True)


def lonlat(xy: np.ndarray, crs) -> np.ndarray:
    """An (n, 2) lon/lat array from (n, 2) projected coordinates (x = easting)."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    lon, lat = _to_wgs84(crs).transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def lonlat_points(geometries: np.ndarray, crs) -> np.ndarray:
    """An (n, 2) lon/lat array of a representative point inside each geometry (NaN where empty)."""
    geometries = np.asarray(geometries, dtype=object)
    if len(geometries) == 0:
        return np.empty((0, 2))
    points = shapely.point_on_surface(geometries)
    return lonlat(np.column_stack([shapely.get_x(points), shapely.get_y(points)]), crs)  # NaN where empty
