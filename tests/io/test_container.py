"""Safe opening of uploads: every refusal of survey-package.md "Limits and refusal", before extraction."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from cadastre.errors import InputError, UnsafeArchiveError
from cadastre.io.container import Limits, open_container


def make_zip(path: Path, members: dict[str, bytes], **info_attrs) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            for key, value in info_attrs.get(name, {}).items():
                setattr(info, key, value)
            zf.writestr(info, data)
    return path


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("../evil.txt", "“..”"), ("成果/../../evil.txt", "“..”"), ("/etc/passwd", "绝对路径"), ("C:/x.txt", "绝对路径"),
     ("a\\..\\..\\b.txt", "“..”")],
)
def test_path_traversal_is_refused_naming_the_member(tmp_path, name, fragment):
    archive = make_zip(tmp_path / "p.zip", {"ok.txt": b"x", name: b"x"})
    with pytest.raises(UnsafeArchiveError) as info:
        with open_container(archive):
            pass
    assert fragment in info.value.message_zh
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_member_is_refused(tmp_path):
    archive = make_zip(tmp_path / "p.zip", {"link": b"/etc/passwd"}, link={"external_attr": (0o120777 << 16)})
    with pytest.raises(UnsafeArchiveError, match="符号链接"):
        with open_container(archive):
            pass


def test_encrypted_member_is_refused(tmp_path):
    archive = make_zip(tmp_path / "p.zip", {"secret.dbf": b"x" * 10})
    data = bytearray(archive.read_bytes())
    # set the "encrypted" general purpose flag in both the local and the central header
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        data[at + offset] |= 0x1
    archive.write_bytes(bytes(data))
    with pytest.raises(UnsafeArchiveError, match="已加密"):
        with open_container(archive):
            pass


def test_member_count_total_size_and_upload_limits(tmp_path):
    archive = make_zip(tmp_path / "p.zip", {f"f{i}.txt": b"x" for i in range(12)})
    with pytest.raises(UnsafeArchiveError, match="个成员"):
        with open_container(archive, Limits(max_members=10)):
            pass
    with pytest.raises(UnsafeArchiveError, match="超过上传上限"):
        with open_container(archive, Limits(max_upload_bytes=100)):
            pass
    big = make_zip(tmp_path / "big.zip", {"a.bin": bytes(range(256)) * 100})
    with pytest.raises(UnsafeArchiveError, match="解压后共"):
        with open_container(big, Limits(max_total_bytes=1000)):
            pass


def test_zip_bomb_ratio_is_refused(tmp_path):
    bomb = make_zip(tmp_path / "bomb.zip", {"zeros.dbf": bytes(20 << 20)})  # 20 MB of zeros → ~20 KB
    with pytest.raises(UnsafeArchiveError, match="压缩炸弹"):
        with open_container(bomb):
            pass


def test_lying_sizes_are_caught_while_streaming(tmp_path):
    archive = make_zip(tmp_path / "p.zip", {"a.txt": b"0123456789" * 1000})
    data = bytearray(archive.read_bytes())
    central = data.find(b"PK\x01\x02")
    data[central + 24:central + 28] = (100).to_bytes(4, "little")  # declare 100 bytes uncompressed
    archive.write_bytes(bytes(data))
    with pytest.raises((UnsafeArchiveError, InputError)):
        with open_container(archive):
            pass


def test_gbk_member_names_are_decoded(tmp_path, zoning_zip):
    with open_container(zoning_zip) as container:
        assert "地籍区划/DJQ.shp" in container.files
        assert "地籍区划/说明.txt" in container.files
        assert container.find_layer("DJQ").member == "地籍区划/DJQ.shp"
        root = container.root
    assert not root.exists()  # extracted files are removed afterwards


def test_two_files_claiming_a_layer_is_an_error(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / "pkg" / folder).mkdir(parents=True)
        for suffix in (".shp", ".shx", ".dbf"):
            (tmp_path / "pkg" / folder / f"ZD{suffix}").write_bytes(b"")
    with open_container(tmp_path / "pkg") as container:
        with pytest.raises(InputError) as info:
            container.find_layer("ZDJBXX")
    assert "a/ZD.shp" in info.value.message_zh and "b/ZD.shp" in info.value.message_zh


def test_layer_found_by_alias_case_insensitively_at_any_depth(tmp_path):
    (tmp_path / "pkg" / "成果" / "矢量").mkdir(parents=True)
    for suffix in (".SHP", ".shx", ".dbf"):
        (tmp_path / "pkg" / "成果" / "矢量" / f"宗地{suffix}").write_bytes(b"")
    (tmp_path / "pkg" / "fcsl_h.csv").write_text("SHBW\n1-1-101\n", encoding="utf-8")
    with open_container(tmp_path / "pkg") as container:
        assert container.find_layer("ZDJBXX").member == "成果/矢量/宗地.SHP"
        h = container.find_layer("H")
        assert (h.kind, h.member) == ("csv", "fcsl_h.csv")
        assert container.find_layer("ZRZ") is None


def test_not_a_container(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InputError, match="无法识别"):
        with open_container(tmp_path / "x.txt"):
            pass
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(InputError, match="已损坏"):
        with open_container(tmp_path / "broken.zip"):
            pass
    with pytest.raises(InputError, match="找不到"):
        with open_container(tmp_path / "absent.zip"):
            pass


def test_folder_with_symlink_is_refused(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "link.dbf").symlink_to("/etc/passwd")
    with pytest.raises(UnsafeArchiveError, match="符号链接"):
        with open_container(tmp_path / "pkg"):
            pass
