"""The shipped XLSForms: they compile cleanly and follow the conventions the server relies on
(forms/README.md)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openpyxl import load_workbook

from server.domain.xform.schema import location_fields, read_form
from tests.engine_helper import FORMS_DIR, compiled_forms

LANG = "English (en)"
FORM_IDS = [
    "dmip_district_profile",
    "dmip_management_capacity",
    "dmip_health_facility",
    "dmip_school",
    "dmip_ovc_community",
    "dmip_priority_workshop",
    "dmip_process_milestones",
]
# The levels each unit of observation asks for; "subcounty?" means only when relevant.
LOCATION_LEVELS = {
    "dmip_district_profile": ["region", "district"],
    "dmip_management_capacity": ["region", "district", "subcounty"],
    "dmip_health_facility": ["region", "district", "subcounty", "parish"],
    "dmip_school": ["region", "district", "subcounty", "parish"],
    "dmip_ovc_community": ["region", "district", "subcounty"],
    "dmip_priority_workshop": ["region", "district"],
    "dmip_process_milestones": ["region", "district"],
}
CHOICE_FILES = {
    "region": ("regions.csv", None),
    "district": ("districts.csv", "region"),
    "subcounty": ("subcounties.csv", "district"),
    "parish": ("parishes.csv", "subcounty"),
}
META = ["start", "end", "today", "deviceid", "username"]


def sheet_rows(form_id: str, sheet: str) -> list[dict[str, Any]]:
    book = load_workbook(FORMS_DIR / f"{form_id}.xlsx", read_only=True)
    rows = list(book[sheet].iter_rows(values_only=True))
    book.close()
    header = [str(h) for h in rows[0]]
    return [dict(zip(header, row, strict=False)) for row in rows[1:]]


def test_exactly_the_seven_forms_are_shipped() -> None:
    assert sorted(compiled_forms()) == sorted(FORM_IDS)


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_compiles_without_warnings(form_id: str) -> None:
    _, xform, warnings = compiled_forms()[form_id]
    assert warnings == ()
    assert read_form(xform.encode()).xml_form_id == form_id


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_settings(form_id: str) -> None:
    (settings,) = sheet_rows(form_id, "settings")
    assert settings["form_id"] == form_id
    assert re.fullmatch(r"20\d{8}", str(settings["version"]))
    assert settings["default_language"] == LANG
    assert settings["form_title"]
    assert "${" in settings["instance_name"]
    _, xform, _ = compiled_forms()[form_id]
    info = read_form(xform.encode())
    assert info.version == str(settings["version"])
    assert any(f["path"] == "/data/meta/instanceName" for f in info.fields)


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_labels_are_translatable(form_id: str) -> None:
    """Every label, hint and message sits in an `English (en)` column, so a translation is one
    more column; no bare `label` column that would become a nameless default language."""
    survey, choices = sheet_rows(form_id, "survey"), sheet_rows(form_id, "choices")
    for rows in (survey, choices):
        columns = set(rows[0])
        assert f"label::{LANG}" in columns
        assert not {"label", "hint", "constraint_message"} & columns
    for row in survey:
        if row["type"] in {"end_group", "end_repeat", "calculate"} or row["type"] in META:
            continue
        assert row[f"label::{LANG}"], f"{row['name']} has no English label"
        if row["constraint"]:
            assert row[f"constraint_message::{LANG}"], f"{row['name']} constraint has no message"
    for row in choices:
        assert row[f"label::{LANG}"], f"choice {row['list_name']}/{row['name']} has no label"


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_meta_fields_and_cycle(form_id: str) -> None:
    _, xform, _ = compiled_forms()[form_id]
    fields = {f["name"]: f for f in read_form(xform.encode()).fields}
    for name in [*META, "instanceID"]:
        assert name in fields, name
    cycle = fields["cycle"]
    assert cycle["repeat"] is None and cycle["path"] == "/data/cycle"
    assert cycle["required"] and cycle["select"] == "one"
    assert cycle["choices"] and all(re.fullmatch(r"\d{4}/\d{2}", c) for c in cycle["choices"])
    for choice in cycle["choices"]:
        start, end = choice.split("/")
        assert (int(start) + 1) % 100 == int(end)


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_location_convention(form_id: str) -> None:
    _, xform, _ = compiled_forms()[form_id]
    info = read_form(xform.encode())
    fields = {f["name"]: f for f in info.fields}
    levels = LOCATION_LEVELS[form_id]
    assert list(location_fields(info.fields)) == levels
    compact = re.sub(r"\s+", "", xform)
    for level in levels:
        entry = fields[level]
        assert entry["path"] == f"/data/{level}", "location questions are top level"
        assert entry["select"] == "one"
        filename, parent = CHOICE_FILES[level]
        assert entry["choices_file"] == filename
        instance = filename.removesuffix(".csv")
        if parent is None:
            assert f"instance('{instance}')/root/item\"" in compact
        else:
            assert f"instance('{instance}')/root/item[{parent}=/data/{parent}]" in compact
        assert filename in info.media
    for level in set(CHOICE_FILES) - set(levels):
        assert level not in fields


def test_subcounty_is_asked_only_when_a_subcounty_is_assessed() -> None:
    _, xform, _ = compiled_forms()["dmip_management_capacity"]
    fields = {f["name"]: f for f in read_form(xform.encode()).fields}
    assert fields["subcounty"]["required"]
    assert re.sub(r"\s+", "", fields["subcounty"]["relevant"]) == "/data/level_assessed='subcounty'"
    assert fields["district"]["relevant"] is None


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_photos_are_downscaled(form_id: str) -> None:
    photos = [r for r in sheet_rows(form_id, "survey") if r["type"] == "image"]
    assert photos, "every form photographs its evidence"
    for row in photos:
        assert row["parameters"] == "max-pixels=1024"


@pytest.mark.parametrize("form_id", ["dmip_health_facility", "dmip_school"])
def test_visited_places_record_gps(form_id: str) -> None:
    _, xform, _ = compiled_forms()[form_id]
    fields = {f["name"]: f for f in read_form(xform.encode()).fields}
    assert fields["gps"]["type"] == "geopoint" and fields["gps"]["required"]


def test_management_form_scores_nine_functions_on_a_labelled_scale() -> None:
    _, xform, _ = compiled_forms()["dmip_management_capacity"]
    fields = read_form(xform.encode()).fields
    scored = [f for f in fields if f.get("choices") == ["0", "1", "2", "3"]]
    assert len(scored) == 27
    groups = {f["path"].split("/")[2] for f in scored}
    assert len(groups) == 9
    for entry in scored:
        assert entry["required"]
    evidence = {f["name"]: f for f in fields if f["name"].endswith("_evidence")}
    for entry in scored:
        note = evidence[f"{entry['name']}_evidence"]
        assert f"/{entry['name']}" in note["relevant"]
    labels = [
        r[f"label::{LANG}"]
        for r in sheet_rows("dmip_management_capacity", "choices")
        if r["list_name"] == "score"
    ]
    assert all(" - " in label for label in labels)


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_numbers_are_bounded(form_id: str) -> None:
    """Every integer and decimal question has a constraint with a message: a typo of one
    extra digit must not reach the aggregates."""
    _, xform, _ = compiled_forms()[form_id]
    for entry in read_form(xform.encode()).fields:
        if entry.get("type") in {"int", "decimal"}:
            assert entry["constraint"], entry["name"]
