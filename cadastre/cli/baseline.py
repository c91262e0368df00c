"""The county's existing registry: ``cadastre baseline import | list | declare-empty``."""

from __future__ import annotations

import time
from pathlib import Path

import click

from cadastre.cli.common import actor, cli, echo_json, registry
from cadastre.core.catalogue import SEVERITY_NAMES

_STAGES = {"reading": "读取", "checking": "检查", "storing": "入库", "done": "完成"}


@cli.group()
def baseline() -> None:
    """导入县里原有的不动产登记数据（存量数据），保留其代码；此后编码接着已发放的最大代码。"""


def _progress(enabled: bool):
    """A line on stderr per stage: what stage, rows so far and rows per second."""
    if not enabled:
        return None
    started = time.perf_counter()

    def progress(stage: str, fraction: float, rows: int) -> None:
        seconds = time.perf_counter() - started
        rate = f"，{rows / seconds:,.0f} 行/秒" if rows and seconds > 0 else ""
        click.echo(f"[{fraction:4.0%}] {_STAGES.get(stage, stage)}：{rows:,} 行，{seconds:.1f} 秒{rate}", err=True)

    return progress


@baseline.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="只检查，不写入任何数据，输出完整报告")
@click.option("--skip-invalid", is_flag=True, help="有错误的宗地、自然幢、户不导入（列出），其余照常导入")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON：dry_run、imported、skipped、findings")
@click.pass_context
def import_(ctx: click.Context, path: Path, dry_run: bool, skip_invalid: bool, as_json: bool) -> None:
    """导入一批存量数据（压缩包、文件夹、GeoPackage 或 File Geodatabase）。
    退出码 0：已导入、无错误；1：有错误（未导入，--skip-invalid 时导入其余部分）；2：无法读取。"""
    with registry(ctx) as reg:
        result = reg.import_baseline(path, dry_run=dry_run, skip_invalid=skip_invalid, actor=actor(),
                                     progress=_progress(not as_json))
    if as_json:
        echo_json(result.to_dict())
        ctx.exit(result.exit_code)
    counts = result.imported
    what = f"宗地 {counts['parcels']}，自然幢 {counts['buildings']}，户 {counts['units']}，代码 {counts['issued_codes']}"
    if result.status == "refused":
        click.echo(f"存量数据 {path.name} 无法读取：" + "；".join(f["message"] for f in result.report.findings_list()))
    elif result.status == "unchanged":
        click.echo(f"存量数据 {path.name} 此前已导入（批次 {result.lot_id}），未作任何更改")
    elif result.status == "checked":
        click.echo(f"试导入（未写入）：可导入 {what}；涉及地籍子区 {'、'.join(result.subdistricts) or '无'}")
    elif result.status == "rejected":
        click.echo(f"存量数据 {path.name} 有错误，未导入（可用 --skip-invalid 导入其余部分）")
    else:
        click.echo(f"已导入存量数据 {path.name}（批次 {result.lot_id}）：{what}；"
                   f"地籍子区 {'、'.join(result.subdistricts) or '无'}")
    counts_by = result.report.counts()
    click.echo("问题：" + "，".join(f"{SEVERITY_NAMES[s]} {counts_by.get(s, 0)}" for s in ("error", "warning", "info")))
    shown = {"error": 30, "warning": 10}
    for severity, limit in shown.items():
        for f in [f for f in result.report.findings_list() if f["severity"] == severity][:limit]:
            click.echo(f"  [{SEVERITY_NAMES[severity]}] {f['rule']} {f['layer']} {f['feature'] or ''}：{f['message']}")
    if result.skipped and result.status != "rejected":
        click.echo(f"未导入 {len(result.skipped)} 条：" + "、".join(
            f"{s['layer']} {s['code'] or s['feature']}" for s in result.skipped[:20]))
    ctx.exit(result.exit_code)


@baseline.command("list")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """列出已导入的存量数据批次。"""
    with registry(ctx) as reg:
        lots = reg.baseline_lots()
    if as_json:
        echo_json(lots.to_dict("records"))
        return
    if lots.empty:
        click.echo("尚未导入存量数据")
        return
    for lot in lots.itertuples():
        click.echo(f"批次 {lot.id}  {lot.filename}  {str(lot.decided_at)[:19]}  宗地 {lot.parcels}，自然幢 {lot.buildings}，"
                   f"户 {lot.units}，代码 {lot.issued_codes}；地籍子区 {lot.subdistricts}")


@baseline.command("declare-empty")
@click.argument("djzqdm")
@click.option("--reason", help="依据（记入审计日志）")
@click.pass_context
def declare_empty(ctx: click.Context, djzqdm: str, reason: str | None) -> None:
    """确认某地籍子区在本系统之前没有发放过代码（县里启用 require_baseline 时，才能在其中编码）。"""
    with registry(ctx) as reg:
        reg.declare_empty(djzqdm, reason=reason, actor=actor())
    click.echo(f"已确认地籍子区 {djzqdm} 此前未发放代码，可在其中编码")
