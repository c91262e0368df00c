"""Setting a registry up: create or migrate it, its zoning, the sample data, the counties configured, its counts."""

from __future__ import annotations

from pathlib import Path

import click

from cadastre.cli.common import actor, cli, echo_json, registry
from cadastre.core import settings


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
    with registry(ctx) as reg:
        result = reg.import_zoning(path, imported_by=imported_by, actor=actor())
    if as_json:
        echo_json(result.__dict__)
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
    with registry(ctx) as reg:
        zoning = reg.zoning()
    areas = zoning.subdistricts.area / 1e6
    for row, area in zip(zoning.subdistricts.itertuples(), areas, strict=True):
        click.echo(f"{row.djzqdm}  {row.djzqmc or '':<16}  {area:9.3f} km²")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@click.pass_context
def summary(ctx: click.Context, as_json: bool) -> None:
    """登记库概况。"""
    with registry(ctx) as reg:
        s = reg.summary()
        url = reg.info.url
    if as_json:
        echo_json(s.to_dict())
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
    """写出示例数据：地籍区划、权籍调查、两个项目的预测绘与实测绘成果包（GBK shapefile 压缩包）。"""
    from cadastre.samples import write_sample_packages

    labels = {"zoning": "地籍区划", "cadastral": "权籍调查成果包", "presale": "预测绘成果包（龙泉苑）",
              "asbuilt": "实测绘成果包（龙泉苑）", "towers-presale": "预测绘成果包（府前华庭：跃层、底商、地下车库）",
              "towers-asbuilt": "实测绘成果包（府前华庭）", "legacy": "存量数据（原登记系统导出，cadastre baseline import）"}
    for kind, path in write_sample_packages(directory, county).items():
        click.echo(f"示例{labels[kind]}：{path}")


@cli.command()
def counties() -> None:
    """列出已配置的县及其坐标带。"""
    for c in settings.counties().values():
        click.echo(f"{c.code}  {c.city}{c.name:<6}  {c.zone} 带  存储 EPSG:{c.storage_epsg}")
