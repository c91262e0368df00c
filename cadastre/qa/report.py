"""The check report: findings and what was read, as one object; its JSON is the contract of ``cadastre check
--json`` (and later of ingest and the HTTP API), and its Chinese summary is what a surveyor reads first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cadastre.core import findings as fnd
from cadastre.core.catalogue import PLANNING_PREFIX, SEVERITY_NAMES, STAGE_NAMES
from cadastre.core.errors import CadastreError

__all__ = ["Report", "STAGE_NAMES", "SEVERITY_NAMES"]

EXIT_OK, EXIT_ERRORS, EXIT_REFUSED = 0, 1, 2


@dataclass
class Report:
    """What a check found. ``findings`` is a findings frame (``cadastre.core.findings.COLUMNS``)."""

    package: dict[str, Any]
    findings: pd.DataFrame
    encoding: dict[str, dict[str, Any]] = field(default_factory=dict)
    crs: dict[str, Any] | None = None
    layers: dict[str, int] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    indicators: list[dict[str, Any]] = field(default_factory=list)
    accepted: bool = False
    assigned: dict[str, Any] = field(default_factory=dict)
    refused: bool = False
    not_run: list[dict[str, str]] = field(default_factory=list)  # rules that could not run, and why
    source_package: Any = field(default=None, repr=False, compare=False)  # the package read (not serialised)

    @classmethod
    def from_package(cls, package, findings: pd.DataFrame) -> Report:
        """The report of a read :class:`~cadastre.read.package.SurveyPackage` and the findings of its checks."""
        encoding = {}
        sources = {}
        for code, raw in package.raw.items():
            info = raw.info
            if info.encoding is not None:
                encoding[info.text_member] = {"encoding": info.encoding.encoding, "source": info.encoding.how,
                                         "declared": info.encoding.declared, "warning": info.encoding.warning}
            sources[code] = {"member": info.member, "kind": info.kind, "rows": info.rows, "fields": info.fields,
                             "dropped_z": info.dropped_z, "null_shapes": info.null_shapes,
                             "crs": None if info.crs is None else {"epsg": info.crs.epsg, "source": info.crs.how,
                                                                   "detail": info.crs.detail,
                                                                   "warning": info.crs.warning},
                             "sheets": [{"sheet": s.where, "header_rows": list(s.header_rows),
                                         "title_rows": s.title_rows, "blank_rows": s.blank_rows,
                                         "total_rows": s.total_rows, "signature_rows": s.signature_rows,
                                         "skipped_sheets": list(s.skipped_sheets)} for s in info.sheets]}
        crs = package.crs
        return cls(
            package={
                "name": package.name, "stage": package.stage, "county_code": package.county.code,
                "county_name": package.county.name, "sha256": package.sha256, "size": package.size,
                "manifest": package.manifest.to_dict(), "inferred": package.inferred,
                "storage_epsg": package.storage_epsg,
                "files": [{"path": f.member, "size": f.size, "role": f.role, "layer": f.layer} for f in package.files],
            },
            findings=findings,
            encoding=encoding,
            crs=None if crs is None else {"epsg": crs.epsg, "source": crs.how, "detail": crs.detail},
            layers={code: len(frame) for code, frame in package.layers.items()},
            sources=sources,
            source_package=package,
        )

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Report:
        """A report back from its JSON (:meth:`to_dict`), as stored with a package."""
        rows = [{"rule": f["rule"], "severity": f["severity"], "layer": f["layer"], "feature": f.get("feature"),
                 "message": f["message"], "lon": (f.get("location") or [None, None])[0],
                 "lat": (f.get("location") or [None, None])[1], "measured": f.get("measured"),
                 "limit": f.get("limit"), "figures": None} for f in document.get("findings") or []]
        findings = pd.DataFrame(rows, columns=fnd.COLUMNS).astype({"lon": float, "lat": float, "measured": float,
                                                                   "limit": float})
        return cls(package=document.get("package") or {}, findings=findings, encoding=document.get("encoding") or {},
                   crs=document.get("crs"), layers=document.get("layers") or {},
                   sources=document.get("sources") or {}, indicators=document.get("indicators") or [],
                   accepted=bool(document.get("accepted")), assigned=document.get("assigned") or {},
                   refused=bool(document.get("refused")), not_run=document.get("not_run") or [])

    @classmethod
    def refusal(cls, name: str, error: CadastreError, **package: Any) -> Report:
        """The report of a package refused as a whole (unsafe or unreadable): one error finding says why."""
        rule = error.details.get("rule") or "PKG-002"
        return cls(package={"name": name, **package},
                   findings=fnd.frame(rule, "error", "package", [error.details.get("member")], [error.message_zh]),
                   refused=True)

    @property
    def errors(self) -> pd.DataFrame:
        return fnd.blocking(self.findings)

    @property
    def survey_errors(self) -> pd.DataFrame:
        """The errors that stop acceptance: every error except planning ones (PLN), which block readiness only."""
        errors = self.errors
        return errors[~errors["rule"].str.startswith(PLANNING_PREFIX)]

    @property
    def exit_code(self) -> int:
        if self.refused:
            return EXIT_REFUSED
        return EXIT_ERRORS if len(self.errors) else EXIT_OK

    def counts(self) -> dict[str, int]:
        counts = self.findings["severity"].value_counts()
        return {s: int(counts.get(s, 0)) for s in fnd.SEVERITIES}

    def findings_list(self) -> list[dict[str, Any]]:
        c = fnd.plain_columns(self.findings)
        return [{"rule": rule, "severity": severity, "layer": layer,
                 "feature": feature if isinstance(feature, str) else None, "message": message,
                 "location": None if lon is None or lat is None else [lon, lat], "measured": measured, "limit": limit}
                for rule, severity, layer, feature, message, lon, lat, measured, limit in zip(
                    c["rule"], c["severity"], c["layer"], c["feature"], c["message"], c["lon"], c["lat"],
                    c["measured"], c["limit"], strict=True)]

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (see README "Check report JSON")."""
        return {
            "package": self.package, "encoding": self.encoding, "crs": self.crs, "layers": self.layers,
            "sources": self.sources, "findings": self.findings_list(), "counts": self.counts(),
            "indicators": self.indicators, "accepted": self.accepted, "assigned": self.assigned,
            "refused": self.refused, "not_run": self.not_run,
        }

    def write_html(self, path, package=None):
        """Write the report as one self-contained Chinese page (:func:`cadastre.qa.render.write_html`)."""
        from cadastre.qa.render import write_html

        return write_html(self, path, package)

    def write_xlsx(self, path):
        """Write the findings as a spreadsheet with filters (:func:`cadastre.qa.render.write_xlsx`)."""
        from cadastre.qa.render import write_xlsx

        return write_xlsx(self, path)

    def summary_zh(self, *, limit: int = 30) -> str:
        """A short Chinese summary for the terminal."""
        p = self.package
        lines = []
        if self.refused:
            lines.append(f"成果包 {p.get('name')} 被拒收：")
        else:
            lines.append(f"成果包：{p['name']}（{STAGE_NAMES.get(p['stage'], p['stage'])}，"
                         f"{p['county_name']} {p['county_code']}）")
            lines.append(f"SHA-256：{p['sha256']}")
            if self.layers:
                lines.append("图层：" + "，".join(f"{code} {n}" for code, n in self.layers.items()))
            if self.crs:
                lines.append(f"坐标系：EPSG:{self.crs['epsg']}（{self.crs['detail']}），"
                             f"已转换至存储坐标系 EPSG:{p['storage_epsg']}")
            counts = self.counts()
            verdict = "未通过" if counts["error"] else "通过"
            lines.append(f"检查结果：错误 {counts['error']}，警告 {counts['warning']}，提示 {counts['info']} —— {verdict}")
        for skipped in self.not_run:
            lines.append(f"  （未检查）{skipped['rule']}：{skipped['reason']}")
        shown = self.findings.head(limit)
        for row in shown.itertuples():
            feature = f" {row.feature}" if isinstance(row.feature, str) and row.feature else ""
            lines.append(f"  [{SEVERITY_NAMES[row.severity]}] {row.rule} {row.layer}{feature}：{row.message}")
        if len(self.findings) > limit:
            lines.append(f"  …另有 {len(self.findings) - limit} 条，使用 --json 查看全部")
        return "\n".join(lines)
