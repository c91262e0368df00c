"""Definitions of the layers a package may carry, their fields and the stages (from ``data/layers.toml`` and
``data/stages.toml``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cadastre.core import settings

__all__ = ["FieldSpec", "LayerSpec", "Stage", "layer_specs", "stages", "STAGES", "SURVEY_STAGES"]

#: the stages of a surveyor's package
SURVEY_STAGES = ("cadastral", "presale", "asbuilt")
#: … and the county's existing registry, read once (``cadastre baseline import``)
STAGES = (*SURVEY_STAGES, "baseline")
FIELD_TYPES = ("text", "int", "float", "code")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    title: str
    type: str
    aliases: tuple[str, ...] = ()
    numeric_aliases: tuple[str, ...] = ()
    required: tuple[str, ...] = ()  # stages in which the field is required (all stages: STAGES)

    def required_in(self, stage: str | None) -> bool:
        return stage in self.required if stage else bool(self.required)


@dataclass(frozen=True)
class LayerSpec:
    code: str
    title: str
    aliases: tuple[str, ...]
    geometry: tuple[str, ...]
    key: tuple[str, ...]
    fields: dict[str, FieldSpec]

    @property
    def names(self) -> set[str]:
        """Every base name (casefolded) a file or GeoPackage layer of this layer may have."""
        return {self.code.casefold(), *(a.casefold() for a in self.aliases)}

    @property
    def has_geometry(self) -> bool:
        return any(g != "none" for g in self.geometry)

    @property
    def geometry_optional(self) -> bool:
        return "none" in self.geometry


@dataclass(frozen=True)
class Stage:
    code: str
    title: str
    required: tuple[str, ...]


def _field(name: str, entry: dict) -> FieldSpec:
    required = entry.get("required", False)
    required = STAGES if required is True else tuple(required or ())
    kind = entry.get("type", "text")
    if kind not in FIELD_TYPES:
        raise ValueError(f"layers.toml: field {name} has unknown type {kind!r}")
    return FieldSpec(name, entry.get("title", name), kind, tuple(entry.get("aliases", ())),
                     tuple(entry.get("numeric_aliases", ())), required)


@cache
def layer_specs() -> dict[str, LayerSpec]:
    raw = settings.read_toml("layers.toml")
    return {
        code: LayerSpec(code, entry.get("title", code), tuple(entry.get("aliases", ())),
                        tuple(entry.get("geometry", ())), tuple(entry.get("key", ())),
                        {name: _field(name, f) for name, f in entry.get("fields", {}).items()})
        for code, entry in raw.items()
    }


@cache
def stages() -> dict[str, Stage]:
    raw = settings.read_toml("stages.toml")
    return {code: Stage(code, entry["title"], tuple(entry["required"])) for code, entry in raw.items()}
