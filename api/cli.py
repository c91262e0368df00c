"""``cadastre serve``: the HTTP service, added to the ``cadastre`` command through the ``cadastre.commands`` entry
point (the domain library itself imports no web framework)."""

from __future__ import annotations

import os

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址（0.0.0.0 为所有网卡）")
@click.option("--port", default=8000, show_default=True, type=int, help="端口")
@click.option("--workers", default=1, show_default=True, type=int, help="进程数")
@click.option("--basemap-url", envvar="CADASTRE_BASEMAP_URL", metavar="URL",
              help="底图瓦片地址模板（含 {z}/{x}/{y}）；默认无底图")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int, basemap_url: str | None) -> None:
    """启动 HTTP 服务：地图、上传页面、API（/docs）。"""
    import uvicorn

    from cadastre.registry import database_url, open_registry, redact

    url = database_url(ctx.obj.get("db"))
    open_registry(url).close()  # a clear Chinese error now rather than in every worker
    os.environ["CADASTRE_DB"] = url
    if basemap_url:
        os.environ["CADASTRE_BASEMAP_URL"] = basemap_url
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(f"数据库：{redact(url)}")
    click.echo(f"地图：http://{shown}:{port}/   上传：http://{shown}:{port}/upload   API 文档：http://{shown}:{port}/docs")
    click.echo("按 Ctrl+C 停止")
    uvicorn.run("api.app:app_from_env", factory=True, host=host, port=port, workers=workers, log_level="warning")
