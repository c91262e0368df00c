"""The registry's data for people and other offices: a building's 楼盘表, a parcel, exports, the offices' unit lists, planning permits."""

from __future__ import annotations

from pathlib import Path

import click

from cadastre.cli.common import actor, cli, echo_json, registry
from cadastre.core.codes import ParcelCode


@cli.command("table")
@click.argument("building_code")
@click.option("--json", "as_json", is_flag=True)
@click.option("--html", type=click.Path(path_type=Path), metavar="FILE")
@click.option("--xlsx", type=click.Path(path_type=Path), metavar="FILE")
@click.pass_context
def table_command(ctx: click.Context, building_code: str, as_json: bool, html: Path | None, xlsx: Path | None) -> None:
    """楼盘表：BUILDING_CODE 为 24 位自然幢代码（宗地代码 + F + 幢号）。"""
    from cadastre.serve.tables import table_lines, write_table_html, write_table_xlsx

    with registry(ctx) as reg:
        t = reg.building_table(building_code.strip())
    if html:
        click.echo(f"楼盘表 HTML：{write_table_html(t, html)}")
    if xlsx:
        click.echo(f"楼盘表 Excel：{write_table_xlsx(t, xlsx)}")
    if as_json:
        echo_json(t.to_dict())
        return
    if html or xlsx:
        return
    for line in table_lines(t):
        click.echo(line)
    click.echo("可办理首次登记" if t.ready else "暂不可办理首次登记：" + "；".join(t.not_ready_because))


@cli.command()
@click.argument("layers", nargs=-1, required=True, type=click.Choice(["parcels", "buildings", "units"]))
@click.option("-o", "--output", "target", required=True, type=click.Path(path_type=Path),
              help="输出文件：.gpkg、.zip（GBK Shapefile）或 .geojson")
@click.option("--format", "fmt", type=click.Choice(["gpkg", "shp", "geojson"]), help="默认由文件扩展名决定")
@click.option("--subdistrict", metavar="CODE", help="地籍子区代码（12 位；6 位为全县，9 位为地籍区）")
@click.option("--bbox", metavar="MINX,MINY,MAXX,MAXY", help="范围（登记库坐标系）")
@click.option("--as-of", metavar="TIME", help="某一时刻的数据（ISO 8601，如 2026-11-01）")
@click.pass_context
def export(ctx: click.Context, layers: tuple[str, ...], target: Path, fmt: str | None, subdistrict: str | None,
           bbox: str | None, as_of: str | None) -> None:
    """导出图层（宗地 parcels、自然幢 buildings、户 units）为 GeoPackage、GBK Shapefile 或 GeoJSON；字段名与成果包
    一致，可由成果包读取器原样读回。"""
    from cadastre.serve.features import parse_bbox

    box = parse_bbox(bbox)
    with registry(ctx) as reg:
        path = reg.export(target, layers=layers, fmt=fmt, subdistrict=subdistrict, bbox=box, as_of=as_of)
    click.echo(f"已导出 {'、'.join(layers)}：{path}")


@cli.command("units-list")
@click.argument("office", type=click.Choice(["housing", "tax"]))
@click.option("-o", "--output", "target", required=True, type=click.Path(path_type=Path), help="输出 .xlsx 文件")
@click.option("--subdistrict", metavar="CODE", help="地籍子区代码")
@click.option("--as-of", metavar="TIME", help="某一时刻的数据（ISO 8601）")
@click.pass_context
def units_list(ctx: click.Context, office: str, target: Path, subdistrict: str | None, as_of: str | None) -> None:
    """户清单 Excel：housing 给住建部门，tax 给税务部门（不动产单元代码、坐落、室号、用途、面积）。"""
    from cadastre.serve.export import write_unit_list

    with registry(ctx) as reg:
        listing = reg.unit_list(office, subdistrict=subdistrict, as_of=as_of)
    write_unit_list(listing, target, office=office)
    click.echo(f"户清单（{len(listing)} 户）：{target}")


@cli.command()
@click.argument("zddm")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def parcel(ctx: click.Context, zddm: str, as_json: bool) -> None:
    """查看宗地：现势信息、自然幢、历史与代码沿革、能否办理首次登记。"""
    with registry(ctx) as reg:
        info = reg.parcel(ParcelCode.parse(zddm).__str__())
    if as_json:
        echo_json(info)
        return
    c = info["current"]
    click.echo(f"宗地 {info['zddm']}  {c.get('zl') or ''}  面积 {c.get('area') or 0:.2f} ㎡  用途 {c.get('yt') or ''}")
    if info["land_code"]:
        land = info["land_code"]
        state = "现势" if not land["retired_at"] else f"已注销（{land['retired_reason']}）"
        click.echo(f"  土地不动产单元代码 {land['code']}：{state}")
    for b in info["buildings"]:
        click.echo(f"  幢 {b['zrzh']} {b['jzwmc'] or ''}：{b['stage']}，{b['units']} 户")
    for h in info["history"]:
        click.echo(f"  版本 {h['valid_from']} — {h['valid_to'] or '至今'}  成果包 {h['package_id']}"
                   f"{('（' + h['end_reason'] + '）') if h['end_reason'] else ''}")
    click.echo("可办理首次登记（地证同交）" if info["ready_for_first_registration"] else
               "暂不可办理首次登记：" + "；".join(info["not_ready_because"]))


@cli.group()
def permit() -> None:
    """建设工程规划许可（规划核实的依据）。"""


@permit.command("add")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--by", "recorded_by", metavar="NAME", help="登记人")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def permit_add(ctx: click.Context, path: Path, recorded_by: str | None, as_json: bool) -> None:
    """登记规划许可（permit.json 格式）；同号许可内容有变化时，旧版本留存于历史。"""
    with registry(ctx) as reg:
        record = reg.record_permit(path, by=recorded_by, actor=actor())
    if as_json:
        echo_json({**record.to_dict(), "changed": record.changed})
        return
    if record.changed:
        click.echo(f"已登记规划许可 {record.permit.number}（版本 {record.id}，{record.recorded_by or '未署名'}）")
    else:
        click.echo(f"规划许可 {record.permit.number} 内容未变化，未新增版本（现行版本 {record.id}）")


@permit.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def permit_show(ctx: click.Context, number: str, as_json: bool) -> None:
    """显示规划许可的现行内容与历史版本。"""
    with registry(ctx) as reg:
        versions = reg.permit(number)
    if as_json:
        echo_json([v.to_dict() for v in versions])
        return
    current = versions[-1]
    p = current.permit
    click.echo(f"规划许可 {p.number}" + (f"，宗地 {p.zddm}" if p.zddm else "") +
               ("" if current.valid_to is None else "（已失效）"))
    labels = {"land_area": "用地面积 ㎡", "far_max": "容积率上限", "coverage_max": "建筑密度上限",
              "green_min": "绿地率下限", "parking_min": "停车位下限", "total_floor_area": "总建筑面积 ㎡",
              "height_max": "建筑限高 m"}
    for key, label in labels.items():
        if getattr(p, key) is not None:
            click.echo(f"  {label}：{getattr(p, key)}")
    for b in p.buildings:
        click.echo(f"  幢 {b.zrzh}：建筑面积 {b.floor_area} ㎡，地上 {b.floors_above} 层，地下 {b.floors_below} 层，"
                   f"用途 {b.use}")
    for name, area in p.facilities.items():
        click.echo(f"  配套 {name}：不少于 {area} ㎡")
    click.echo("  规划红线：" + ("有" if p.red_line else "无"))
    click.echo("历史版本：")
    for v in versions:
        click.echo(f"  版本 {v.id}：{v.valid_from:%Y-%m-%d %H:%M} — "
                   f"{'至今' if v.valid_to is None else f'{v.valid_to:%Y-%m-%d %H:%M}'}  {v.recorded_by or '未署名'}"
                   f"{('（' + v.end_reason + '）') if v.end_reason else ''}")
