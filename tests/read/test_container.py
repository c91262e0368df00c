"""Safe opening of uploads: every refusal of survey-package.md "Limits and refusal", before extraction."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from cadastre.core.errors import InputError, UnsafeArchiveError
from cadastre.read.container import Limits, open_container


def make_zip(path: Path, members: dict[str, bytes], **info_attrs) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            for key, value in info_attrs.get(name, {}).items():
                setattr(info, key, value)
            zf.writestr(info, data)
    return path


def refusal(archive, limits=None, error=UnsafeArchiveError):
    """Open ``archive`` and return the refusal it must raise."""
    with pytest.raises(error) as info:
        with open_container(archive, limits):
            pass
    return info.value


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("../evil.txt", "“..”"), ("成果/../../evil.txt", "“..”"), ("/etc/passwd", "绝对路径"), ("C:/x.txt", "绝对路径"),
     ("a\\..\\..\\b.txt", "“..”")],
)
def test_path_traversal_is_refused_naming_the_member(tmp_path, name, fragment):
    archive = make_zip(tmp_path / "p.zip", {"ok.txt": b"x", name: b"x"})
    assert fragment in refusal(archive).message_zh
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_member_is_refused(tmp_path):
    archive = make_zip(tmp_path / "p.zip", {"link": b"/etc/passwd"}, link={"external_attr": (0o120777 << 16)})
    assert "符号链接" in refusal(archive).message_zh


def test_encrypted_member_is_refused(tmp_path):
    archive = make_zip(tmp_path / "p.zip", {"secret.dbf": b"x" * 10})
    data = bytearray(archive.read_bytes())
    # set the "encrypted" general purpose flag in both the local and the central header
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        data[at + offset] |= 0x1
    archive.write_bytes(bytes(data))
    assert "已加密" in refusal(archive).message_zh


def test_member_count_total_size_and_upload_limits(tmp_path):
    archive = make_zip(tmp_path / "p.zip", {f"f{i}.txt": b"x" for i in range(12)})
    assert "个成员" in refusal(archive, Limits(max_members=10)).message_zh
    assert "超过上传上限" in refusal(archive, Limits(max_upload_bytes=100)).message_zh
    big = make_zip(tmp_path / "big.zip", {"a.bin": bytes(range(256)) * 100})
    assert "解压后共" in refusal(big, Limits(max_total_bytes=1000)).message_zh


def test_zip_bomb_ratio_is_refused(tmp_path):
    bomb = make_zip(tmp_path / "bomb.zip", {"zeros.dbf": bytes(20 << 20)})  # 20 MB of zeros → ~20 KB
    assert "压缩炸弹" in refusal(bomb).message_zh


def test_lying_sizes_are_caught_while_streaming(tmp_path):
    archive = make_zip(tmp_path / "p.zip", {"a.txt": b"0123456789" * 1000})
    data = bytearray(archive.read_bytes())
    central = data.find(b"PK\x01\x02")
    data[central + 24:central + 28] = (100).to_bytes(4, "little")  # declare 100 bytes uncompressed
    archive.write_bytes(bytes(data))
    refusal(archive, error=(UnsafeArchiveError, InputError))


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
    assert "无法识别" in refusal(tmp_path / "x.txt", error=InputError).message_zh
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04garbage")
    assert "已损坏" in refusal(tmp_path / "broken.zip", error=InputError).message_zh
    assert "找不到" in refusal(tmp_path / "absent.zip", error=InputError).message_zh


def test_folder_with_symlink_is_refused(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "link.dbf").symlink_to("/etc/passwd")
    assert "符号链接" in refusal(tmp_path / "pkg").message_zh


def test_member_with_an_empty_name(tmp_path):
    archive = make_zip(tmp_path / "p.zip", {"": b"x"})  # found by the fuzzer: zipfile itself fails on it
    assert "名称为空" in refusal(archive, error=InputError).message_zh
