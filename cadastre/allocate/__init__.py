"""Allocation policy as pure functions over frames: numbering scopes and order (``policy``), coding a cadastral
survey's parcels (``parcels``), a building survey's 幢号, floors and 预测/实测 comparison (``buildings``), and the
楼盘表 (``buildingtable``). The registry reserves the numbers and writes the rows. Imports ``core``, ``read`` and
``qa``."""
