"""The ``cadastre`` command line. Each command is a thin shell over a library function.

Errors the user can act on print a Chinese message (with findings, if any) and exit with status 2; nothing prints
a traceback unless ``CADASTRE_DEBUG=1``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

import click

from cadastre import __version__
from cadastre.core import settings
from cadastre.core.auth import Role
from cadastre.core.codes import ParcelCode, UnitCode
from cadastre.core.errors import CadastreError, FindingsError
from cadastre.qa.report import SEVERITY_NAMES

EXIT_REFUSED = 2
EXIT_INTERNAL = 3


def _echo_json(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


class _Group(click.Group):
    """Turns domain errors into a Chinese message and exit status 2 — never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CadastreError as e:
            click.echo(f"错误：{e.message_zh}", err=True)
            if isinstance(e, FindingsError):
                for f in e.findings:
                    click.echo(f"  [{f.rule} {f.severity}] {f.message}", err=True)
            if os.environ.get("CADASTRE_DEBUG"):
                traceback.print_exc()
            ctx.exit(EXIT_REFUSED)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as e:  # a bug: say so plainly, keep the details for developers
            click.echo(f"内部错误：{type(e).__name__}: {e}（设置 CADASTRE_DEBUG=1 可查看详细信息）", err=True)
            if os.environ.get("CADASTRE_DEBUG"):
                traceback.print_exc()
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=_Group)
@click.option("--db", "db_url", envvar="CADASTRE_DB", metavar="URL",
              help="数据库地址 (sqlite:///path 或 postgresql://…)；默认 CADASTRE_DB 或 sqlite:///var/cadastre.sqlite")
@click.version_option(__version__, prog_name="cadastre")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None) -> None:
    """cadastre：不动产测绘成果检查、编码与服务。"""
    ctx.obj = {"db": db_url}


def _plugin_commands() -> None:
    """Add commands other packages provide through the ``cadastre.commands`` entry point (``serve`` from ``api``).
    A plugin whose dependencies are missing is left out."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="cadastre.commands"):
        try:
            cli.add_command(entry.load(), entry.name)
        except ImportError:
            continue


_plugin_commands()


def _actor():
    """Who runs the command, for the audit log: the operating-system user on this machine (whoever can run the
    CLI here can open the database itself)."""
    import getpass

    from cadastre.core.auth import Principal, Role

    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Principal(name, Role.ADMIN, "cli")


def _registry(ctx: click.Context):
    from cadastre.registry import open_registry

    return open_registry(ctx.obj["db"])


@cli.command()
@click.option("--county", "counties", multiple=True, metavar="CODE",
              help="登记库所属县级行政区代码（可多次给出；新建时必需），如 141031")
@click.pass_context
def init(ctx: click.Context, counties: tuple[str, ...]) -> None:
    """创建登记库，或把已有登记库迁移到最新结构（可重复运行）。"""
    from cadastre.registry import init_registry

    with init_registry(ctx.obj["db"], counties) as reg:
        names = "、".join(f"{c.name}（{c.code}）" for c in reg.counties)
        click.echo(f"登记库已就绪：{reg.info.url}")
        click.echo(f"  县：{names}；存储坐标系 EPSG:{reg.storage_srid}；数据库结构版本 {reg.info.revision}")


@cli.group()
def zones() -> None:
    """地籍区 / 地籍子区（参考数据）。"""


@zones.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--by", "imported_by", metavar="NAME", help="导入人")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果")
@click.pass_context
def zones_import(ctx: click.Context, path: Path, imported_by: str | None, as_json: bool) -> None:
    """从 zip、文件夹或 GeoPackage 导入 DJQ/DJZQ 图层。"""
    with _registry(ctx) as reg:
        result = reg.import_zoning(path, imported_by=imported_by, actor=_actor())
    if as_json:
        _echo_json(result.__dict__)
        return
    if result.status == "unchanged":
        click.echo(f"地籍区划与现势数据相同，未作改动（导入记录 {result.import_id}）")
    else:
        click.echo(f"地籍区划已导入（导入记录 {result.import_id}）：新增 {len(result.added)}，"
                   f"变更 {len(result.changed)}，停用 {len(result.ended)}，未变 {result.unchanged}")
    click.echo(f"  原始文件 SHA-256：{result.sha256}")


@zones.command("list")
@click.pass_context
def zones_list(ctx: click.Context) -> None:
    """列出现势地籍区与地籍子区。"""
    with _registry(ctx) as reg:
        zoning = reg.zoning()
    areas = zoning.subdistricts.area / 1e6
    for row, area in zip(zoning.subdistricts.itertuples(), areas, strict=True):
        click.echo(f"{row.djzqdm}  {row.djzqmc or '':<16}  {area:9.3f} km²")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@click.pass_context
def summary(ctx: click.Context, as_json: bool) -> None:
    """登记库概况。"""
    with _registry(ctx) as reg:
        s = reg.summary()
        url = reg.info.url
    if as_json:
        _echo_json(s.to_dict())
        return
    names = "、".join(f"{settings.county(c).name}（{c}）" for c in s.counties)
    click.echo(f"登记库 {url}")
    click.echo(f"  县：{names}    存储坐标系：EPSG:{s.storage_srid}    数据库：{s.dialect}")
    click.echo(f"  地籍区 {s.districts} 个，地籍子区 {s.subdistricts} 个，面积 {s.zoned_area_km2:.3f} km²")
    click.echo(f"  宗地 {s.parcels}，自然幢 {s.buildings}，户 {s.units}；成果包 {s.packages}；已发放代码 {s.issued_codes}")


@cli.group()
def samples() -> None:
    """生成合成示例数据。"""


@samples.command("write")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--county", default="141031", show_default=True, help="县级行政区代码")
def samples_write(directory: Path, county: str) -> None:
    """写出示例数据：地籍区划、权籍调查、预测绘与实测绘成果包（GBK shapefile 压缩包）。"""
    from cadastre.samples import write_sample_packages

    labels = {"zoning": "地籍区划", "cadastral": "权籍调查成果包", "presale": "预测绘成果包", "asbuilt": "实测绘成果包"}
    for kind, path in write_sample_packages(directory, county).items():
        click.echo(f"示例{labels[kind]}：{path}")


@cli.command()
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 报告（供其他系统使用的格式）")
@click.option("--county", metavar="CODE", envvar="CADASTRE_COUNTY",
              help="成果包未在 manifest.json 中给出县时使用的县级代码（默认：登记库的县）")
@click.option("--permit", "permit_file", type=click.Path(path_type=Path), metavar="FILE",
              help="登记的规划许可 JSON；与成果包中的 permit.json 比对")
@click.option("--html", type=click.Path(path_type=Path), metavar="FILE", help="另存为可阅读的 HTML 质检报告")
@click.option("--xlsx", type=click.Path(path_type=Path), metavar="FILE", help="另存问题清单为 Excel 表")
@click.pass_context
def check(ctx: click.Context, package: Path, as_json: bool, county: str | None, permit_file: Path | None,
          html: Path | None, xlsx: Path | None) -> None:
    """检查成果包（不入库）。退出码 0：无错误；1：有错误；2：拒收或无法读取。"""
    from cadastre.qa.pipeline import check_package

    registry = _existing_registry(ctx)
    try:
        if county is None and registry is not None and len(registry.info.counties) == 1:
            county = registry.info.counties[0]
        report = check_package(package, county=county, permit=permit_file, registry=registry)
    finally:
        if registry is not None:
            registry.close()
    if html:
        from cadastre.qa.render import write_html

        write_html(report, html)
    if xlsx:
        from cadastre.qa.render import write_xlsx

        write_xlsx(report, xlsx)
    if as_json:
        _echo_json(report.to_dict())
    else:
        click.echo(report.summary_zh())
        for path, label in ((html, "HTML 报告"), (xlsx, "Excel 问题清单")):
            if path:
                click.echo(f"{label}：{path}")
    ctx.exit(report.exit_code)


def _existing_registry(ctx: click.Context):
    """The registry when its database exists and is initialised (never creates one), else None."""
    from cadastre.core.errors import DatabaseError
    from cadastre.registry import open_registry

    try:
        return open_registry(ctx.obj["db"])
    except DatabaseError:
        return None


@contextmanager
def _progress_bar(*, enabled: bool):
    """A progress callback drawing a bar on the terminal (stderr), or None when not on a terminal."""
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    from cadastre.core.progress import STAGE_NAMES

    with click.progressbar(length=1000, label=STAGE_NAMES["reading"], file=sys.stderr, width=30,
                           show_percent=True, show_eta=False) as bar:
        def progress(stage: str, fraction: float) -> None:
            bar.label = STAGE_NAMES.get(stage, stage).ljust(8)
            bar.update(int(1000 * fraction) - bar.pos)

        yield progress
        bar.update(1000 - bar.pos)


@cli.command()
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="输出 JSON（check 的报告加上 accepted 与 assigned）")
@click.option("--by", "submitted_by", metavar="NAME", help="提交人")
@click.pass_context
def ingest(ctx: click.Context, package: Path, as_json: bool, submitted_by: str | None) -> None:
    """检查并入库成果包；无未豁免错误时受理并编码。退出码 0：受理；1：有错误被退回；2：拒收或无法读取。"""
    with _registry(ctx) as reg, _progress_bar(enabled=not as_json) as progress:
        result = reg.ingest(package, submitted_by=submitted_by, progress=progress, actor=_actor())
    if as_json:
        _echo_json({**result.report, "package_id": result.package_id, "duplicate": result.duplicate})
        ctx.exit(result.exit_code)
    if result.status == "refused":
        click.echo(f"成果包 {package.name} 被拒收：" + "；".join(f["message"] for f in result.report["findings"]))
    elif result.status == "rejected":
        errors = [f for f in result.report["findings"] if f["severity"] == "error"]
        click.echo(f"成果包已入库（编号 {result.package_id}），但有 {len(errors)} 处错误未豁免，未受理。"
                   f"查看：cadastre findings {result.package_id}")
        for f in errors[:20]:
            click.echo(f"  [错误] {f['rule']} {f['layer']} {f['feature'] or ''}：{f['message']}")
    else:
        again = "（相同文件此前已受理，未重新编码）" if result.duplicate else ""
        click.echo(f"成果包已受理（编号 {result.package_id}）{again}")
        a = result.assigned
        for p in a.get("parcels", []):
            click.echo(f"  宗地 {p['feature']}：宗地代码 {p['zddm']}，不动产单元代码 {p['bdcdyh']}")
        units = a.get("units", [])
        if units:
            kept = sum(not u["new"] for u in units)
            click.echo(f"  户 {len(units)} 个：沿用预测代码 {kept}，新编 {len(units) - kept}")
            for u in units[:5]:
                click.echo(f"    幢 {u['zrzh']} {u['shbw']}：{u['bdcdyh']}{'' if u['new'] else '（沿用）'}")
            if len(units) > 5:
                click.echo(f"    …共 {len(units)} 户")
        for r in a.get("retired", [])[:10]:
            click.echo(f"  注销 {r['bdcdyh']}：{r['reason']}（关联 {len(r['replaced_by'])} 个新代码）")
    ctx.exit(result.exit_code)


@cli.command("table")
@click.argument("building_code")
@click.option("--json", "as_json", is_flag=True)
@click.option("--html", type=click.Path(path_type=Path), metavar="FILE")
@click.option("--xlsx", type=click.Path(path_type=Path), metavar="FILE")
@click.pass_context
def table_command(ctx: click.Context, building_code: str, as_json: bool, html: Path | None, xlsx: Path | None) -> None:
    """楼盘表：BUILDING_CODE 为 24 位自然幢代码（宗地代码 + F + 幢号）。"""
    from cadastre.allocate.buildingtable import write_table_html, write_table_xlsx

    with _registry(ctx) as reg:
        t = reg.building_table(building_code.strip())
    if html:
        click.echo(f"楼盘表 HTML：{write_table_html(t, html)}")
    if xlsx:
        click.echo(f"楼盘表 Excel：{write_table_xlsx(t, xlsx)}")
    if as_json:
        _echo_json(t.to_dict())
        return
    if html or xlsx:
        return
    click.echo(f"{t.name or ''} 楼盘表（{'实测' if t.stage == 'asbuilt' else '预测'}） {t.code}  户数 {t.unit_count}  "
               f"总建筑面积 {t.total_area:.2f} ㎡" + ("" if t.balanced else "（与幢面积不平衡）"))
    for row in t.rows:
        cells = "  ".join("—" if c is None else f"{c.shbw}:{c.bdcdyh[-8:]}:{c.area or 0:.2f}" for c in row.cells)
        click.echo(f"{row.myc:>6}层  {cells}  | {row.total_area:.2f}")
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
    with _registry(ctx) as reg:
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

    with _registry(ctx) as reg:
        listing = reg.unit_list(office, subdistrict=subdistrict, as_of=as_of)
    write_unit_list(listing, target, office=office)
    click.echo(f"户清单（{len(listing)} 户）：{target}")


@cli.command()
@click.argument("zddm")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def parcel(ctx: click.Context, zddm: str, as_json: bool) -> None:
    """查看宗地：现势信息、自然幢、历史与代码沿革、能否办理首次登记。"""
    with _registry(ctx) as reg:
        info = reg.parcel(ParcelCode.parse(zddm).__str__())
    if as_json:
        _echo_json(info)
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
    with _registry(ctx) as reg:
        record = reg.record_permit(path, by=recorded_by, actor=_actor())
    if as_json:
        _echo_json({**record.to_dict(), "changed": record.changed})
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
    with _registry(ctx) as reg:
        versions = reg.permit(number)
    if as_json:
        _echo_json([v.to_dict() for v in versions])
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


@cli.command()
@click.argument("package_id", type=int)
@click.argument("rule")
@click.argument("feature")
@click.option("--by", "waived_by", required=True, metavar="NAME", help="豁免人")
@click.option("--reason", required=True, metavar="TEXT", help="豁免理由")
@click.pass_context
def waive(ctx: click.Context, package_id: int, rule: str, feature: str, waived_by: str, reason: str) -> None:
    """豁免已入库成果包的一条问题（FEATURE 为要素标识；图层级问题用 -）。豁免记录不可修改。"""
    with _registry(ctx) as reg:
        record = reg.waive(package_id, rule, None if feature == "-" else feature, by=waived_by, reason=reason,
                           actor=_actor())
    click.echo(f"已豁免：成果包 {package_id} 的 {record.rule} {record.feature or ''}（豁免记录 {record.id}，"
               f"{record.waived_by}：{record.reason}）")


@cli.command()
@click.argument("package_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def findings(ctx: click.Context, package_id: int, as_json: bool) -> None:
    """列出已入库成果包的问题及豁免情况。"""
    with _registry(ctx) as reg:
        frame = reg.findings(package_id)
    if as_json:
        _echo_json(frame.drop(columns=["geometry", "waived_at", "received_at"]).to_dict("records"))
        return
    for row in frame.itertuples():
        waived = f"  【已豁免：{row.waived_by}，{row.waiver_reason}】" if isinstance(row.waived_by, str) else ""
        click.echo(f"[{SEVERITY_NAMES[row.severity]}] {row.rule} {row.layer} {row.feature or '-'}：{row.message}{waived}")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def rules(as_json: bool) -> None:
    """列出检查规则（编号、严重程度、说明、限差）。"""
    from dataclasses import asdict

    from cadastre.core.catalogue import CATALOGUE
    from cadastre.qa.rules import RULES, load_rules
    from cadastre.qa.rules.base import tolerance

    load_rules()
    defaults = settings.rules()
    rows = []
    for r in CATALOGUE.values():
        keys = RULES[r.id].tolerances if r.id in RULES else ()
        rows.append({**asdict(r), "tolerance": {k: tolerance(defaults, k) for k in keys}})
    if as_json:
        _echo_json(rows)
        return
    for row in rows:
        limits = "，".join(f"{k}={v}" for k, v in row["tolerance"].items())
        click.echo(f"{row['id']}  {SEVERITY_NAMES[row['severity']]}  {row['layer']:<10}  {row['description']}"
                   + (f"（限差：{limits}）" if limits else ""))


@cli.command()
@click.argument("code")
@click.option("--json", "as_json", is_flag=True)
def explain(code: str, as_json: bool) -> None:
    """解读一个宗地代码（19位）或不动产单元代码（28位）。"""
    compact = "".join(code.split())
    parsed = ParcelCode.parse(code) if len(compact) == 19 else UnitCode.parse(code)
    parcel = parsed if isinstance(parsed, ParcelCode) else parsed.parcel_code
    from cadastre.core.codetables import table

    county = settings.counties().get(parcel.county)
    parts = {
        "code": str(parsed),
        "readable": parsed.readable,
        "county": parcel.county,
        "county_name": county.name if county else table("XZQH").name(parcel.county),
        "djq": parcel.djq,
        "djzq": parcel.djzq,
        "ownership": f"{parcel.ownership} {table('ZDTZM_OWNERSHIP').name(parcel.ownership)}",
        "parcel_type": f"{parcel.parcel_type} {table('ZDTZM_TYPE').name(parcel.parcel_type)}",
        "parcel_seq": parcel.parcel_seq,
    }
    if isinstance(parsed, UnitCode):
        parts["fixture"] = f"{parsed.fixture} {table('DZWTZM').name(parsed.fixture)}"
        parts.update(building=parsed.building, unit=parsed.unit, serial=parsed.serial)
    if as_json:
        _echo_json(parts)
        return
    labels = {"readable": "代码", "county": "县级行政区", "djq": "地籍区", "djzq": "地籍子区",
              "ownership": "所有权", "parcel_type": "宗地类型", "parcel_seq": "宗地顺序号", "fixture": "定着物",
              "building": "幢号", "unit": "户号", "serial": "定着物编号"}
    for key, label in labels.items():
        value = parts.get(key)
        if value is None:
            continue
        if key == "county":
            value = f"{value} {parts['county_name'] or ''}"
        click.echo(f"{label}：{value}")


# ------------------------------------------------------------------------------------ accounts, tokens, audit


#: the roles, as cadastre.core.auth names them
ROLES = click.Choice([role.value for role in Role])


@cli.group()
def user() -> None:
    """用户与角色：surveyor 测绘单位、registrar 登记员、planner 规划、analyst 分析（权利人遮蔽）、admin 管理员。"""


def _new_password(password_stdin: bool, generate: bool = False) -> str:
    if generate:
        import secrets

        return secrets.token_urlsafe(12)
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=ROLES)
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（一行）")
@click.option("--generate-password", is_flag=True, help="生成随机密码并打印")
@click.option("--no-password", is_flag=True, help="不设密码：只用令牌的系统账户")
@click.pass_context
def user_add(ctx: click.Context, name: str, role: str, password_stdin: bool, generate_password: bool,
             no_password: bool) -> None:
    """新增用户（登录用密码；系统账户用 --no-password 并以 cadastre token create 领取令牌）。"""
    password = None if no_password else _new_password(password_stdin, generate_password)
    with _registry(ctx) as reg:
        reg.add_user(name, role, password=password, actor=_actor())
    click.echo(f"已新增用户 {name}（{role}）" + (f"，密码：{password}" if generate_password else ""))


@user.command("set")
@click.argument("name")
@click.option("--role", type=ROLES)
@click.option("--password", "new_password", is_flag=True, help="设置新密码（提示输入）")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取新密码")
@click.option("--generate-password", is_flag=True, help="生成随机新密码并打印")
@click.option("--disable/--enable", default=None, help="停用（其令牌随即失效）或重新启用")
@click.option("--upload-quota", metavar="SIZE", help="每 24 小时上传配额，如 20GB、500MB；0 为不限；default 为服务默认值")
@click.pass_context
def user_set(ctx: click.Context, name: str, role: str | None, new_password: bool, password_stdin: bool,
             generate_password: bool, disable: bool | None, upload_quota: str | None) -> None:
    """修改用户的角色、密码、上传配额，或停用/启用。"""
    wanted = new_password or password_stdin or generate_password
    password = _new_password(password_stdin, generate_password) if wanted else None
    quota = None if upload_quota is None else _bytes(upload_quota)
    with _registry(ctx) as reg:
        reg.update_user(name, role=role, password=password, disabled=disable, upload_quota=quota, actor=_actor())
    click.echo(f"已修改用户 {name}" + (f"，新密码：{password}" if generate_password else ""))


def _bytes(text: str) -> int | str:
    """A size as people write it (``20GB``, ``500 MB``, ``1024``), or ``default``."""
    text = text.strip().upper().replace(" ", "")
    if text == "DEFAULT":
        return "default"
    for unit, factor in (("GB", 1 << 30), ("G", 1 << 30), ("MB", 1 << 20), ("M", 1 << 20), ("KB", 1 << 10),
                         ("K", 1 << 10), ("B", 1)):
        if text.endswith(unit):
            number, factor = text[: -len(unit)], factor
            break
    else:
        number, factor = text, 1
    try:
        return int(float(number) * factor)
    except ValueError:
        raise click.BadParameter(f"无法识别的大小 {text}（如 20GB、500MB、0、default）") from None


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """列出用户。"""
    with _registry(ctx) as reg:
        frame = reg.users()
    for row in frame.itertuples():
        state = "已停用" if row.disabled_at is not None else ("密码登录" if row.has_password else "仅令牌")
        quota = row.upload_quota_bytes
        shown = "" if quota is None or quota != quota else ("  上传不限" if quota == 0 else
                                                             f"  上传配额 {quota / 2**30:.1f} GB/天")
        click.echo(f"{row.name:<24} {row.role:<10} {state}{shown}")


@cli.group()
def token() -> None:
    """访问令牌：供系统调用 API（Authorization: Bearer 令牌）。"""


@token.command("create")
@click.option("--user", "name", required=True, help="用户名")
@click.option("--role", type=ROLES,
              help="令牌的角色（默认用户的角色；管理员可为系统领取较低角色的令牌）")
@click.option("--days", type=click.IntRange(1, 3650), help="有效天数（默认长期有效，直到吊销）")
@click.option("--label", help="用途说明，如“税务局接口”")
@click.pass_context
def token_create(ctx: click.Context, name: str, role: str | None, days: int | None, label: str | None) -> None:
    """生成令牌并打印（只显示这一次；登记库只保存其 SHA-256）。"""
    from datetime import timedelta

    with _registry(ctx) as reg:
        issued = reg.issue_token(name, role=role, label=label,
                                 lifetime=timedelta(days=days) if days else None, actor=_actor())
    until = issued.expires_at.strftime("%Y-%m-%d %H:%M UTC") if issued.expires_at else "吊销为止"
    click.echo(f"令牌 {issued.id}（{issued.name}，{issued.role}，有效至 {until}）：", err=True)
    click.echo(issued.token)


@token.command("list")
@click.option("--user", "name", help="只列此用户的令牌")
@click.pass_context
def token_list(ctx: click.Context, name: str | None) -> None:
    """列出令牌（不含令牌本身）。"""
    with _registry(ctx) as reg:
        frame = reg.tokens(name)
    for row in frame.itertuples():
        state = "已吊销" if row.revoked_at is not None else f"有效至 {row.expires_at or '吊销为止'}"
        click.echo(f"{row.id:>5} {row.name:<20} {row.role:<10} {row.kind:<8} {state}  {row.label or ''}")


@token.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def token_revoke(ctx: click.Context, token_id: int) -> None:
    """吊销令牌（立即失效）。"""
    with _registry(ctx) as reg:
        reg.revoke_token(token_id, actor=_actor())
    click.echo(f"已吊销令牌 {token_id}")


@cli.command()
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
              help="起始时间（UTC），如 2026-11-01")
@click.option("--user", "name", help="只看此用户")
@click.option("--action", help="只看此类操作，如 owners.read、package.accept")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def audit(ctx: click.Context, since, name: str | None, action: str | None, limit: int, as_json: bool) -> None:
    """审计日志：每次写入和每次读取权利人信息——谁、何时、做了什么、从哪里。"""
    from datetime import UTC

    with _registry(ctx) as reg:
        frame = reg.audit_log(since=since.replace(tzinfo=UTC) if since else None, user=name, action=action,
                              limit=limit)
    if as_json:
        _echo_json(frame.astype(object).where(frame.notna(), None).to_dict("records"))
        return
    for row in frame.itertuples():
        detail = json.dumps(row.detail, ensure_ascii=False) if row.detail else ""
        click.echo(f"{str(row.at)[:19]}  {row.actor:<16} {row.role or '':<9} {row.action:<16} "
                   f"{row.target or '':<28} {row.source or '':<12} {detail}")


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.pass_context
def backup(ctx: click.Context, folder: Path) -> None:
    """备份登记库：数据库的一致快照（SQLite：VACUUM INTO；PostgreSQL：pg_dump）与全部原始文件，附 SHA-256 清单。服务运行时即可执行。"""
    with _registry(ctx) as reg:
        result = reg.backup(folder, actor=_actor())
    m = result.manifest
    click.echo(f"已备份到 {folder}：数据库 {m['database']['path']}（{m['database']['size'] / 2**20:.1f} MB），"
               f"原始文件 {len(m['originals'])} 个；成果包 {m['counts']['package']}，宗地 {m['counts']['parcel']}，"
               f"户 {m['counts']['unit']}，已发放代码 {m['counts']['issued_code']}")
    for problem in result.problems:
        click.echo(f"  问题：{problem}", err=True)
    ctx.exit(1 if result.problems else 0)


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--originals", type=click.Path(path_type=Path), help="原始文件目录（默认：数据库所在位置的 originals/）")
@click.pass_context
def restore(ctx: click.Context, folder: Path, originals: Path | None) -> None:
    """把备份恢复到空的位置（--db 指定的新 SQLite 文件或空的 PostgreSQL 数据库），先逐一核对备份文件的校验和，恢复后检查登记库。"""
    from cadastre.registry import restore_registry
    from cadastre.store.engine import database_url, redact

    url = database_url(ctx.obj["db"])
    with restore_registry(folder, url, originals=originals) as reg:
        problems = reg.verify()
        s = reg.summary()
    click.echo(f"已恢复到 {redact(url)}：宗地 {s.parcels}，自然幢 {s.buildings}，户 {s.units}，成果包 {s.packages}，"
               f"已发放代码 {s.issued_codes}")
    _print_problems(problems)
    ctx.exit(1 if problems else 0)


def _print_problems(problems) -> None:
    from cadastre.qa.integrity import CHECKS

    if not problems:
        click.echo("检查通过：" + "、".join(CHECKS.values()))
    for problem in problems:
        click.echo(f"  [{CHECKS[problem.check]}] {problem.message}")
        for item in problem.items:
            click.echo(f"      {item}")


@cli.command()
@click.option("--no-originals", is_flag=True, help="不核对原始文件的校验和（大的原始文件库较慢）")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def verify(ctx: click.Context, no_originals: bool, as_json: bool) -> None:
    """检查登记库的不变量：原始文件校验和、代码唯一且对应、编码高水位、现势宗地不重叠、已受理成果包的数据完整。
    退出码 0：无问题；1：发现问题（逐条列出）；2：无法检查。"""
    with _registry(ctx) as reg:
        problems = reg.verify(originals=not no_originals)
    if as_json:
        _echo_json({"ok": not problems, "problems": [p.to_dict() for p in problems]})
    else:
        _print_problems(problems)
    ctx.exit(1 if problems else 0)


@cli.command("purge-refused")
@click.option("--dry-run", is_flag=True, help="只列出，不删除")
@click.pass_context
def purge_refused(ctx: click.Context, dry_run: bool) -> None:
    """删除超过保留期（service.toml 的 refused_retention_days，默认 30 天）的拒收文件；拒收记录保留。服务运行时每小时自动执行。"""
    with _registry(ctx) as reg:
        purged = reg.purge_refused(dry_run=dry_run, actor=_actor())
    total = sum(p["size"] for p in purged)
    verb = "将删除" if dry_run else "已删除"
    click.echo(f"{verb}拒收文件 {len(purged)} 个，共 {total / 2**20:.1f} MB")
    for p in purged:
        click.echo(f"  {p['sha256'][:12]}…  {p['size']:>12,} 字节  成果包 {', '.join(map(str, p['packages']))}")


@cli.command()
def counties() -> None:
    """列出已配置的县及其坐标带。"""
    for c in settings.counties().values():
        click.echo(f"{c.code}  {c.city}{c.name:<6}  {c.zone} 带  存储 EPSG:{c.storage_epsg}")


def main() -> None:
    cli(prog_name="cadastre")


if __name__ == "__main__":
    main()
    sys.exit(0)
