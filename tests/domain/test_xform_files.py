"""XForms read as uploaded, given a new version, and their expected media with Central's kinds."""

from __future__ import annotations

import pytest
from pyxform.xls2xform import convert

from server.domain.xform.safe_xml import XmlError
from server.domain.xform.schema import read_form
from server.domain.xform.xform_files import ExpectedMedia, expected_media, read_xform, with_version
from tests.fixtures.openrosa import compile_xform
from tests.fixtures.xlsforms.build import xlsform


def test_with_version_sets_the_primary_instance_version_only() -> None:
    xform = compile_xform("school", "1", "School")
    renamed = with_version(xform, "2025-07 <b>&")
    info = read_form(renamed)
    assert (info.xml_form_id, info.version, info.title) == ("school", "2025-07 <b>&", "School")
    assert read_form(xform).fields == info.fields
    assert renamed.startswith(b"<?xml")
    with pytest.raises(XmlError):
        with_version(xform, "bad\x01")
    with pytest.raises(XmlError):
        with_version(xform, "v" * 256)


def test_expected_media_names_each_file_with_its_kind() -> None:
    book = xlsform(
        [
            ("type", "name", "label", "media::image", "media::audio"),
            ("note", "intro", "Hello", "logo.png", "hello.mp3"),
            ("select_one_from_file districts.csv", "district", "District", "", ""),
        ],
        settings=[["form_id", "version"], ["m", "1"]],
    )
    xform = convert(book, file_type=".xlsx").xform.encode()
    assert expected_media(xform) == [
        ExpectedMedia("districts.csv", "file"),
        ExpectedMedia("hello.mp3", "audio"),
        ExpectedMedia("logo.png", "image"),
    ]
    assert sorted(read_form(xform).media) == ["districts.csv", "hello.mp3", "logo.png"]


def test_read_xform_keeps_the_bytes_and_says_what_is_wrong() -> None:
    xform = compile_xform("school", "1", "School")
    result = read_xform(xform)
    assert result.ok and result.xform is xform and result.info.xml_form_id == "school"
    assert read_xform(b"<x").error_code == "xml.malformed"
    assert read_xform(xform.replace(b' id="school"', b"")).error_code == "xform.no_id"
    assert read_xform(xform.replace(b"instanceID", b"other")).error_code == "xform.no_meta"
