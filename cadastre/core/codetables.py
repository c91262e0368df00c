"""Code tables of coded attribute fields, read from ``data/code-tables.toml``.

Store codes; show names. ``table("GHYT").name("11")`` → ``"成套住宅"``. A value outside its table is reported by the
checks (ATT-003), never an exception here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType

from cadastre.core.errors import ConfigError
from cadastre.core.settings import read_toml

__all__ = ["CodeTable", "code_tables", "table", "labelled"]


@dataclass(frozen=True)
class CodeTable:
    """One code table: ``values`` maps code → Chinese name; ``fields`` are the attribute names that use it."""

    key: str
    title: str
    fields: tuple[str, ...]
    values: Mapping[str, str]
    extra: Mapping[str, object] = field(default_factory=dict, repr=False)

    def __contains__(self, code: object) -> bool:
        return code in self.values

    def name(self, code: str) -> str | None:
        """Chinese name of ``code``, or None when the code is not in the table."""
        return self.values.get(code)


@cache
def code_tables() -> Mapping[str, CodeTable]:
    """All code tables keyed by table key (``QLLX``, ``FWYT``, ``ZDTZM_TYPE`` …)."""
    raw = read_toml("code-tables.toml")
    tables = {}
    for key, entry in raw.items():
        values = {str(k): str(v) for k, v in entry.get("values", {}).items()}
        extra = {k: v for k, v in entry.items() if k not in ("title", "fields", "values")}
        tables[key] = CodeTable(key, entry.get("title", key), tuple(entry.get("fields", [key])),
                                MappingProxyType(values), MappingProxyType(extra))
    return MappingProxyType(tables)


@cache
def table(field_or_key: str) -> CodeTable:
    """The table for a table key or for an attribute field that uses it (``GHYT`` → the 房屋用途 table)."""
    name = field_or_key.upper()
    tables = code_tables()
    if name in tables:
        return tables[name]
    for t in tables.values():
        if name in t.fields:
            return t
    raise ConfigError(f"没有字段 {field_or_key} 的代码表", f"no code table for field {field_or_key}")


def labelled(field: str, code: object) -> str | None:
    """A coded value as a person reads it: code and name (``0701 城镇住宅用地``, ``3 国有建设用地使用权``); the code
    alone when its table does not know it; None for no value. A land-use code deeper than its table names is named by
    its parent (``070199`` → ``070199 城镇住宅用地``)."""
    if code is None or (isinstance(code, float) and code != code) or str(code).strip() == "":
        return None
    code = str(code).strip()
    try:
        values = table(field).values
    except ConfigError:
        return code
    for known in (code, code[:4], code[:2]) if field.upper() == "YT" else (code,):
        if known in values:
            return f"{code} {values[known]}"
    return code
