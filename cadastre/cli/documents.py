"""Registration documents: ``cadastre document parcel-map | boundary-points | unit-plan | floor-plan |
first-registration CODE -o FILE``."""

from __future__ import annotations

from pathlib import Path

import click

from cadastre.cli.common import cli, registry

_AS_OF = click.option("--as-of", help="某一时刻的数据（ISO 8601，如 2026-11-01T09:00）：重现当时出具的图件")
_OUT = click.option("-o", "--output", "output", type=click.Path(path_type=Path, dir_okay=False), required=True,
                    help="输出文件")


@cli.group()
def document() -> None:
    """登记用图件：宗地图、界址点成果表（PDF 或 xlsx）、房产分户图、分层平面图（PDF，A4，按比例尺绘制），首次登记资料包（zip）。"""


def _written(output: Path, body: bytes, what: str) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(body)
    click.echo(f"已生成{what}：{output}（{len(body) / 1024:.0f} KB）")


@document.command("parcel-map")
@click.argument("zddm")
@_OUT
@_AS_OF
@click.option("--draft", is_flag=True, help="加“草稿”水印")
@click.pass_context
def parcel_map(ctx: click.Context, zddm: str, output: Path, as_of: str | None, draft: bool) -> None:
    """宗地图：ZDDM 为 19 位宗地代码。"""
    with registry(ctx) as reg:
        _written(output, reg.parcel_map(zddm, as_of=as_of, draft=draft), "宗地图")


@document.command("boundary-points")
@click.argument("zddm")
@_OUT
@_AS_OF
@click.pass_context
def boundary_points(ctx: click.Context, zddm: str, output: Path, as_of: str | None) -> None:
    """界址点成果表：按输出文件的扩展名生成 PDF（.pdf）或 Excel（.xlsx）。"""
    fmt = output.suffix.lower().lstrip(".")
    if fmt not in ("pdf", "xlsx"):
        raise click.BadParameter("输出文件的扩展名应为 .pdf 或 .xlsx", param_hint="-o")
    with registry(ctx) as reg:
        _written(output, reg.boundary_points(zddm, fmt=fmt, as_of=as_of), "界址点成果表")


@document.command("unit-plan")
@click.argument("bdcdyh")
@_OUT
@_AS_OF
@click.option("--draft", is_flag=True, help="加“草稿”水印")
@click.pass_context
def unit_plan(ctx: click.Context, bdcdyh: str, output: Path, as_of: str | None, draft: bool) -> None:
    """房产分户图：BDCDYH 为 28 位不动产单元代码。"""
    with registry(ctx) as reg:
        _written(output, reg.unit_plan(bdcdyh, as_of=as_of, draft=draft), "房产分户图")


@document.command("floor-plan")
@click.argument("building")
@click.option("--floor", type=int, required=True, help="实际层（地下为负数，如 -1）")
@_OUT
@_AS_OF
@click.option("--draft", is_flag=True, help="加“草稿”水印")
@click.pass_context
def floor_plan(ctx: click.Context, building: str, floor: int, output: Path, as_of: str | None, draft: bool) -> None:
    """房产分层平面图：BUILDING 为 24 位自然幢代码（宗地代码 + F + 幢号）。"""
    with registry(ctx) as reg:
        _written(output, reg.floor_plan(building, floor, as_of=as_of, draft=draft), "房产分层平面图")


@document.command("first-registration")
@click.argument("building")
@_OUT
@click.option("--draft", is_flag=True, help="自然幢尚不能办理首次登记时，也生成（各图加“草稿”水印）")
@click.pass_context
def first_registration(ctx: click.Context, building: str, output: Path, draft: bool) -> None:
    """首次登记资料包（zip）：楼盘表、宗地图、界址点成果表、房产分户图、分层平面图、规划核实与办理条件、manifest.json。"""
    with registry(ctx) as reg:
        _written(output, reg.first_registration_file(building, draft=draft), "首次登记资料包")
