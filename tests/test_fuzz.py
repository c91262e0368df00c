"""Fuzzing the reader: randomly corrupted archives and shapefiles end in a report or a clean refusal, never in
an unexpected exception (which would reach a surveyor as a traceback)."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cadastre.qa.pipeline import check_package
from cadastre.samples import Quirks, sample_cadastral, sample_manifest, write_package

# CADASTRE_FUZZ_EXAMPLES=2000 for a longer run than CI's
FUZZ = settings(max_examples=int(os.environ.get("CADASTRE_FUZZ_EXAMPLES", 40)), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def clean_package(tmp_path_factory) -> Path:
    return write_package(tmp_path_factory.mktemp("fuzz") / "c.zip", sample_cadastral(),
                         manifest=sample_manifest("cadastral"), quirks=Quirks(cpg=None))


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _rezip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _outcome(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzzed.zip"
    path.write_bytes(data)
    report = check_package(path, county="141031")  # must not raise
    assert report.exit_code in (0, 1, 2)
    report.to_dict()
    report.summary_zh()
    if report.refused:
        assert report.findings["message"].str.len().gt(0).all()


@FUZZ
@given(st.data())
def test_corrupted_archive_bytes(tmp_path, clean_package, data):
    blob = bytearray(clean_package.read_bytes())
    for _ in range(data.draw(st.integers(1, 20))):
        at = data.draw(st.integers(0, len(blob) - 1))
        blob[at] = data.draw(st.integers(0, 255))
    _outcome(tmp_path, bytes(blob))


@FUZZ
@given(st.data())
def test_corrupted_shapefile_members(tmp_path, clean_package, data):
    members = _members(clean_package.read_bytes())
    names = sorted(n for n in members if n.lower().endswith((".shp", ".shx", ".dbf", ".prj", ".cpg")))
    name = data.draw(st.sampled_from(names))
    blob = bytearray(members[name])
    action = data.draw(st.sampled_from(["flip", "truncate", "empty", "garbage"]))
    if action == "flip" and blob:
        for _ in range(data.draw(st.integers(1, 30))):
            at = data.draw(st.integers(0, len(blob) - 1))
            blob[at] = data.draw(st.integers(0, 255))
    elif action == "truncate" and blob:
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    elif action == "empty":
        blob = bytearray()
    else:
        blob = bytearray(data.draw(st.binary(min_size=1, max_size=400)))
    members[name] = bytes(blob)
    _outcome(tmp_path, _rezip(members))


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(tmp_path, blob):
    _outcome(tmp_path, blob)
