"""Reading what surveyors deliver: containers (zip, folder, GeoPackage; unsafe archives refused), encodings, CRS
decisions, raw layers and their values, normalised into the package model (:func:`read_package`); and the zoning
layers. Imports ``core`` only."""

from cadastre.read.package import SurveyPackage, read_package

__all__ = ["SurveyPackage", "read_package"]
