"""cadastre's HTTP service: the API, OGC API – Features, vector tiles, the staff map and the upload page.

Only HTTP lives here; every route calls the ``cadastre`` library (``cadastre.registry.Registry``). Start it with
``cadastre serve`` or build it with :func:`api.app.create_app`.

``create_app`` is imported on first use: the ``cadastre`` command loads ``api.cli`` (its ``serve``) for every
command, and importing the web application there would add FastAPI's start-up time to each of them.
"""

__all__ = ["create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from api.app import create_app

        return create_app
    raise AttributeError(f"module 'api' has no attribute {name!r}")
