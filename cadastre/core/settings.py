"""County settings and the data directory.

``data/`` holds what varies by county or by standard edition: county settings (``counties.toml``), code tables
(``code-tables.toml``) and rules files (``rules/*.toml``). This module finds it and reads it; nothing else in the
library hard-codes those values.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cadastre.core.errors import ConfigError

__all__ = ["County", "data_dir", "county", "counties", "tolerances", "service", "zone_epsg"]


def data_dir() -> Path:
    """The directory holding county settings, code tables and rules.

    ``CADASTRE_DATA`` wins; an installed wheel carries a copy as ``cadastre/_data``; a source checkout uses the
    repository's ``data/``.
    """
    env = os.environ.get("CADASTRE_DATA")
    if env:
        return Path(env)
    package = Path(__file__).resolve().parent.parent  # cadastre/
    bundled = package / "_data"
    return bundled if bundled.is_dir() else package.parent / "data"


def read_toml(name: str) -> dict[str, Any]:
    path = data_dir() / name
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"找不到配置文件 {path}", f"settings file {path} not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"配置文件 {path} 格式错误：{e}", f"settings file {path} is not valid TOML: {e}") from None


def zone_epsg(zone: int, *, prefixed: bool = True) -> int:
    """EPSG code of the CGCS2000 3-degree Gauss-Krüger zone (25–45), with or without the zone prefix."""
    if not 25 <= zone <= 45:
        raise ConfigError(f"3度带带号 {zone} 超出 25–45", f"3-degree zone {zone} outside 25–45")
    return 4513 + zone - 25 if prefixed else 4534 + zone - 25


@dataclass(frozen=True)
class County:
    """Settings of one county-level division (GB/T 2260 code)."""

    code: str
    name: str
    province: str
    city: str
    zone: int
    storage_epsg: int
    tolerances_name: str = "default"
    allow_provisional_zoning: bool = False
    centre: tuple[float, float] | None = None
    #: number parcels only in sub-districts a baseline lot covered or an administrator declared empty
    require_baseline: bool = True

    @property
    def central_meridian(self) -> int:
        return self.zone * 3

    @property
    def zone_epsg_codes(self) -> tuple[int, int]:
        """(prefixed, unprefixed) EPSG codes of the county's zone."""
        return zone_epsg(self.zone, prefixed=True), zone_epsg(self.zone, prefixed=False)

    @property
    def tolerances(self) -> dict[str, Any]:
        """The county's check tolerances and limits (its file under ``data/rules/``, over the defaults)."""
        return tolerances(self.tolerances_name)


@cache
def counties() -> dict[str, County]:
    """Every county in ``counties.toml``, keyed by code."""
    raw = read_toml("counties.toml")
    out: dict[str, County] = {}
    for code, entry in raw.items():
        try:
            zone = int(entry["zone"])
            storage_epsg = int(entry.get("storage_epsg", zone_epsg(zone)))
            if storage_epsg not in (zone_epsg(zone), zone_epsg(zone, prefixed=False)):
                raise ConfigError(
                    f"县 {code} 的存储坐标系 EPSG:{storage_epsg} 与其 {zone} 带不符",
                    f"county {code}: storage EPSG:{storage_epsg} does not belong to zone {zone}",
                )
            out[code] = County(
                code=code,
                name=entry["name"],
                province=entry.get("province", ""),
                city=entry.get("city", ""),
                zone=zone,
                storage_epsg=storage_epsg,
                tolerances_name=entry.get("rules", "default"),
                allow_provisional_zoning=bool(entry.get("allow_provisional_zoning", False)),
                centre=tuple(entry["centre"]) if "centre" in entry else None,
                require_baseline=bool(entry.get("require_baseline", True)),
            )
        except KeyError as e:
            raise ConfigError(f"counties.toml 中县 {code} 缺少 {e.args[0]}",
                              f"counties.toml: county {code} lacks {e.args[0]}") from None
    return out


def county(code: str) -> County:
    """Settings of one county; :class:`ConfigError` names the code when it is unknown."""
    try:
        return counties()[code]
    except KeyError:
        known = "、".join(sorted(counties()))
        raise ConfigError(f"未配置的县级行政区代码 {code}（已配置：{known}）",
                          f"unknown county code {code} (configured: {known})") from None


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(
            merged.get(key), dict) else value
    return merged


@cache
def tolerances(name: str = "default") -> dict[str, Any]:
    """Check tolerances and upload limits of a county's file ``data/rules/NAME.toml``, laid over
    ``rules/default.toml`` (``counties.toml`` names each county's file with ``rules = "…"``)."""
    base = read_toml("rules/default.toml")
    return base if name == "default" else _merge(base, read_toml(f"rules/{name}.toml"))


@cache
def service() -> dict[str, Any]:
    """Settings of the service as a whole (``service.toml``): sign-in throttling, upload quotas and retention, HTTP
    body timeouts."""
    return read_toml("service.toml")
