"""HTTP layer: the FastAPI application and the staff map page (issue 7).

It only translates HTTP to calls of the ``cadastre`` library and maps domain errors (``cadastre.errors``) to
RFC 9457 problem responses through one table. Nothing here is imported by ``cadastre``.
"""
