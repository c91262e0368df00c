"""Registration documents from the registry (issue 24): 宗地图, 界址点成果表 (PDF and xlsx), 房产分户图.

``model`` computes what a document shows from rows and geometry (pure); ``pdf`` and ``xlsx`` draw it."""

from cadastre.serve.documents.model import (
    STANDARD_SCALES,
    ParcelSheet,
    UnitSheet,
    boundary_points,
    building_label,
    choose_scale,
    crs_label,
    floor_label,
    floors_of,
    four_sides,
)
from cadastre.serve.documents.pdf import boundary_points_pdf, floor_plan_pdf, parcel_map_pdf, unit_plan_pdf
from cadastre.serve.documents.xlsx import BOUNDARY_COLUMNS, boundary_points_xlsx

__all__ = ["STANDARD_SCALES", "ParcelSheet", "UnitSheet", "boundary_points", "building_label", "choose_scale",
           "crs_label", "four_sides", "boundary_points_pdf", "parcel_map_pdf", "unit_plan_pdf",
           "boundary_points_xlsx", "BOUNDARY_COLUMNS", "floor_plan_pdf", "floor_label", "floors_of"]
