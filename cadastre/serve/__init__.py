"""What goes out to people and other systems: OGC API feature collections and GeoJSON (``features``), vector tiles
and their encoder (``tiles``, ``mvt``), exports for other offices and desktop GIS (``export``), the parcel card and
the masking of owners' names (``cards``), the printable 楼盘表 (``tables``). Imports the layers before it, never
``store`` or SQLAlchemy."""
