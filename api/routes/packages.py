"""Survey packages: upload (processed in the background), status and progress, report, original, findings,
waivers."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi import Path as FastPath
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, Field

from api.deps import JSON, RegistryDep
from api.problems import PROBLEM_RESPONSES, problem_response
from cadastre.errors import InputError
from cadastre.progress import STAGE_NAMES
from cadastre.report import SEVERITY_NAMES

#: a package number (database ids are 32-bit on every engine)
PackageId = Annotated[int, FastPath(ge=1, le=2**31 - 1, description="成果包编号")]

router = APIRouter(prefix="/api/packages", tags=["成果包"], responses=PROBLEM_RESPONSES)

UPLOAD_SUFFIXES = (".zip", ".gpkg")


def _state(state, *, report: bool) -> dict:
    out = state.to_dict(report=report)
    out["stage_name"] = STAGE_NAMES.get(state.stage, state.stage)
    out["links"] = {"self": f"/api/packages/{state.id}", "report_html": f"/api/packages/{state.id}/report.html",
                    "original": f"/api/packages/{state.id}/original", "findings": f"/api/packages/{state.id}/findings",
                    "findings_geojson": f"/collections/findings/items?package={state.id}&limit=10000"}
    return out


@router.post("", status_code=202, response_class=JSON,
             responses={202: {"description": "已接收，后台处理中；进度见 Location"},
                        413: problem_response(413, "上传文件过大"), 409: problem_response(409, "冲突")})
async def upload_package(request: Request, registry: RegistryDep,
                         file: Annotated[UploadFile, File(description="成果包（.zip 或 .gpkg）")],
                         submitted_by: Annotated[str | None, Form(max_length=100)] = None):
    """上传成果包：立即返回成果包编号，后台完成读取、检查、入库与编码。"""
    name = Path(file.filename or "package.zip").name or "package.zip"
    if not name.lower().endswith(UPLOAD_SUFFIXES):
        raise InputError(f"文件 {name} 不是成果包：请上传 .zip 或 .gpkg", f"{name} is not a .zip or .gpkg")
    with tempfile.TemporaryDirectory(prefix="cadastre-upload-") as folder:
        target = Path(folder) / name
        with target.open("wb") as out:
            await run_in_threadpool(shutil.copyfileobj, file.file, out, 1 << 20)
        received = await run_in_threadpool(registry.receive, target, filename=name, submitted_by=submitted_by)
    request.app.state.worker.submit(received.package_id)
    state = await run_in_threadpool(registry.package, received.package_id, report=False)
    body = {**_state(state, report=False), "duplicate": received.duplicate}
    return JSON(body, status_code=202, headers={"Location": f"/api/packages/{received.package_id}"})


@router.get("", response_class=JSON)
def list_packages(registry: RegistryDep, submitted_by: str | None = Query(None, max_length=100),
                  status: str | None = Query(None, pattern="^(received|accepted|rejected|refused|superseded)$"),
                  limit: int = Query(50, ge=1, le=500), before: int | None = Query(None, ge=1, le=2**31 - 1)):
    """成果包列表（新的在前）；before 为上一页最后一个编号。"""
    states = registry.packages(submitted_by=submitted_by, status=status, limit=limit, before=before)
    return {"packages": [_state(s, report=False) for s in states],
            "next": f"/api/packages?limit={limit}&before={states[-1].id}" if len(states) == limit else None}


@router.get("/{package_id}", response_class=JSON)
def get_package(registry: RegistryDep, package_id: PackageId):
    """成果包状态、处理进度（阶段与百分比）和质检报告 JSON。"""
    return _state(registry.package(package_id), report=True)


@router.get("/{package_id}/report.html", response_class=HTMLResponse,
            responses={200: {"content": {"text/html": {}}}, 409: problem_response(409, "尚在处理中")})
def package_report_html(registry: RegistryDep, package_id: PackageId):
    """中文质检报告（HTML）。"""
    return HTMLResponse(registry.report_html(package_id))


@router.get("/{package_id}/original", response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "原始文件，逐字节"}})
def package_original(registry: RegistryDep, package_id: PackageId):
    """上传的原始文件（逐字节，附 SHA-256）。"""
    original = registry.original(package_id)
    return FileResponse(original.path, filename=original.filename, media_type="application/octet-stream",
                        headers={"ETag": f'"{original.sha256}"', "X-Content-SHA256": original.sha256})


@router.get("/{package_id}/findings", response_class=JSON)
def package_findings(registry: RegistryDep, package_id: PackageId):
    """成果包的全部问题及豁免情况。"""
    frame = registry.findings(package_id)
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for r in records:
        r["severity_name"] = SEVERITY_NAMES.get(r["severity"], r["severity"])
    return {"package_id": package_id, "findings": records}


class WaiverIn(BaseModel):
    rule: str = Field(min_length=1, max_length=16, description="规则编号，如 GEO-001")
    feature: str | None = Field(None, max_length=200, description="要素（无则为空）")
    by: str = Field(min_length=1, max_length=100, description="豁免人")
    reason: str = Field(min_length=1, max_length=2000, description="豁免理由")


@router.post("/{package_id}/waivers", status_code=201, response_class=JSON,
             responses={201: {"description": "已豁免"}, 409: problem_response(409, "该问题已豁免")})
def waive_finding(registry: RegistryDep, package_id: PackageId, waiver: WaiverIn):
    """豁免成果包中的一个问题（记录豁免人与理由，不可修改）。全部错误豁免后，重新处理即可受理。"""
    record = registry.waive(package_id, waiver.rule, waiver.feature, by=waiver.by, reason=waiver.reason)
    return JSON(record.__dict__, status_code=201)


@router.post("/{package_id}/process", status_code=202, response_class=JSON,
             responses={202: {"description": "已排队"}})
def reprocess_package(request: Request, registry: RegistryDep, package_id: PackageId):
    """重新处理成果包：被退回的成果包在错误全部豁免后由此受理。"""
    state = registry.package(package_id, report=False)
    request.app.state.worker.submit(package_id)
    return JSON(_state(state, report=False), status_code=202)
