"""Survey packages: check (nothing stored), ingest, their findings and waivers, refused uploads past their retention, the rule catalogue, reading a code."""

from __future__ import annotations

from pathlib import Path

import click

import cadastre
from cadastre.cli.common import actor, cli, echo_json, existing_registry, progress_bar, registry
from cadastre.core.catalogue import SEVERITY_NAMES
from cadastre.core.codes import EXPLAIN_LABELS
from cadastre.core.codes import explain as explain_code


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
    found = existing_registry(ctx)
    if found is None:  # no registry here: the rules over the package alone, and what the permit file says
        report = cadastre.check(package, county=county, permit=permit_file)
    else:
        with found:
            report = found.check(package, county=county, permit=permit_file)
    if html:
        report.write_html(html)
    if xlsx:
        report.write_xlsx(xlsx)
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(report.summary_zh())
        for path, label in ((html, "HTML 报告"), (xlsx, "Excel 问题清单")):
            if path:
                click.echo(f"{label}：{path}")
    ctx.exit(report.exit_code)


@cli.command()
@click.argument("package", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="输出 JSON（check 的报告加上 accepted 与 assigned）")
@click.option("--by", "submitted_by", metavar="NAME", help="提交人")
@click.pass_context
def ingest(ctx: click.Context, package: Path, as_json: bool, submitted_by: str | None) -> None:
    """检查并入库成果包；无未豁免错误时受理并编码。退出码 0：受理；1：有错误被退回；2：拒收或无法读取。"""
    with registry(ctx) as reg, progress_bar(enabled=not as_json) as progress:
        result = reg.ingest(package, submitted_by=submitted_by, progress=progress, actor=actor())
    if as_json:
        echo_json({**result.report, "package_id": result.package_id, "duplicate": result.duplicate})
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


@cli.command()
@click.argument("package_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def findings(ctx: click.Context, package_id: int, as_json: bool) -> None:
    """列出已入库成果包的问题及豁免情况。"""
    with registry(ctx) as reg:
        frame = reg.findings(package_id)
    if as_json:
        echo_json(frame.drop(columns=["geometry", "waived_at", "received_at"]).to_dict("records"))
        return
    for row in frame.itertuples():
        waived = f"  【已豁免：{row.waived_by}，{row.waiver_reason}】" if isinstance(row.waived_by, str) else ""
        click.echo(f"[{SEVERITY_NAMES[row.severity]}] {row.rule} {row.layer} {row.feature or '-'}：{row.message}{waived}")


@cli.command()
@click.argument("package_id", type=int)
@click.argument("rule")
@click.argument("feature")
@click.option("--by", "waived_by", required=True, metavar="NAME", help="豁免人")
@click.option("--reason", required=True, metavar="TEXT", help="豁免理由")
@click.pass_context
def waive(ctx: click.Context, package_id: int, rule: str, feature: str, waived_by: str, reason: str) -> None:
    """豁免已入库成果包的一条问题（FEATURE 为要素标识；图层级问题用 -）。豁免记录不可修改。"""
    with registry(ctx) as reg:
        record = reg.waive(package_id, rule, None if feature == "-" else feature, by=waived_by, reason=reason,
                           actor=actor())
    click.echo(f"已豁免：成果包 {package_id} 的 {record.rule} {record.feature or ''}（豁免记录 {record.id}，"
               f"{record.waived_by}：{record.reason}）")


@cli.command("purge-refused")
@click.option("--dry-run", is_flag=True, help="只列出，不删除")
@click.pass_context
def purge_refused(ctx: click.Context, dry_run: bool) -> None:
    """删除超过保留期（service.toml 的 refused_retention_days，默认 30 天）的拒收文件；拒收记录保留。服务运行时每小时自动执行。"""
    with registry(ctx) as reg:
        purged = reg.purge_refused(dry_run=dry_run, actor=actor())
    total = sum(p["size"] for p in purged)
    verb = "将删除" if dry_run else "已删除"
    click.echo(f"{verb}拒收文件 {len(purged)} 个，共 {total / 2**20:.1f} MB")
    for p in purged:
        click.echo(f"  {p['sha256'][:12]}…  {p['size']:>12,} 字节  成果包 {', '.join(map(str, p['packages']))}")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def rules(as_json: bool) -> None:
    """列出检查规则（编号、严重程度、说明、限差）。"""
    rows = cadastre.rule_catalogue()
    if as_json:
        echo_json(rows)
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
    parts = explain_code(code)
    if as_json:
        echo_json(parts)
        return
    for key, label in EXPLAIN_LABELS.items():
        value = parts.get(key)
        if value is None:
            continue
        if key == "county":
            value = f"{value} {parts['county_name'] or ''}"
        click.echo(f"{label}：{value}")
