"""cadastre's HTTP service: the API, OGC API – Features, vector tiles, the staff map and the upload page.

Only HTTP lives here; every route calls the ``cadastre`` library (``cadastre.registry.Registry``). Start it with
``cadastre serve`` or build it with :func:`api.app.create_app`.
"""

from api.app import create_app

__all__ = ["create_app"]
