"""Every shipped form loads and is filled in the official ODK XForms engine (the engine of ODK
Web Forms), and the engine's own submission payload matches what the server reads."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from server.domain.catalog import load_catalog, row_values_for_form
from server.domain.xform.safe_xml import local_name, parse
from server.domain.xform.schema import location_fields, read_form
from tests.engine_helper import (
    FORMS_DIR,
    EngineError,
    compiled_forms,
    engine_unavailable,
    fill_form,
    load_answers,
    org_rows,
    write_org_csvs,
)
from tests.paths import FIXTURES_DIR

pytestmark = pytest.mark.skipif(
    engine_unavailable() is not None, reason=f"ODK engine unavailable: {engine_unavailable()}"
)

FORM_IDS = sorted(compiled_forms())


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_org_csvs(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="module")
def xform_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("xforms")
    for form_id, (_, xform, _) in compiled_forms().items():
        (directory / f"{form_id}.xml").write_text(xform, encoding="utf-8")
    return directory


def leaves(element: Any, prefix: str = "") -> dict[str, list[str]]:
    """Every leaf of the payload by path without repeat indexes: path -> values in order."""
    out: dict[str, list[str]] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        path = f"{prefix}/{local_name(child)}"
        if len(child):
            for key, values in leaves(child, path).items():
                out.setdefault(key, []).extend(values)
        else:
            out.setdefault(path, []).append(child.text or "")
    return out


def expected_text(value: Any) -> list[str]:
    if isinstance(value, list):
        return [" ".join(value)]
    return [str(value)]


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_engine_fills_the_form(form_id: str, media_dir: Path, xform_dir: Path) -> None:
    answers = load_answers(form_id)
    payload = fill_form(xform_dir / f"{form_id}.xml", media_dir, answers)
    root = parse(payload)
    info = read_form(compiled_forms()[form_id][1].encode())
    assert local_name(root) == info.root_name
    assert root.get("id") == form_id
    assert root.get("version") == info.version

    values = leaves(root, f"/{info.root_name}")
    (instance_id,) = values[f"/{info.root_name}/meta/instanceID"]
    assert re.fullmatch(
        r"uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", instance_id
    )
    (instance_name,) = values[f"/{info.root_name}/meta/instanceName"]
    assert answers["cycle"] in instance_name

    # The payload holds exactly the form's fields (read_form's list), and every answer given
    # comes back at the path read_form says, including inside repeats.
    field_paths = {f["path"] for f in info.fields if f["kind"] == "field"}
    assert set(values) <= field_paths, set(values) - field_paths
    by_name = {f["name"]: f for f in info.fields}
    for name, value in answers.items():
        entry = by_name[name]
        if entry["kind"] == "repeat":
            for key in {k for item in value for k in item}:
                got = values[by_name[key]["path"]]
                want = [v for item in value for v in expected_text(item.get(key, ""))]
                assert [_norm(g) for g in got] == [_norm(w) for w in want], key
        else:
            (got,) = values[entry["path"]]
            (want,) = expected_text(value)
            assert _norm(got) == _norm(want), name

    # Required questions that are relevant have an answer; the meta fields were preloaded.
    for entry in info.fields:
        if (
            entry["kind"] == "field"
            and entry["required"]
            and entry["repeat"] is None
            and entry["relevant"] is None
        ):
            assert values[entry["path"]] != [""], entry["name"]
    for meta in ("start", "end", "today", "deviceid", "username"):
        assert values[f"/{info.root_name}/{meta}"][0], meta

    # Location answers are org codes the server's CSVs offer.
    codes = {row["name"] for rows in org_rows().values() for row in rows}
    for level, path in location_fields(info.fields).items():
        (code,) = values[path]
        assert code in codes, (level, code)


def _norm(text: str) -> str:
    """Numbers as numbers ("21500000000.0" == "21500000000", also inside a geopoint's
    "lat lon alt acc"), everything else verbatim."""
    words = text.split(" ")
    try:
        return " ".join(repr(float(w)) for w in words)
    except ValueError:
        return text


def test_catalog_indicators_evaluate_on_engine_payloads(media_dir: Path, xform_dir: Path) -> None:
    """Each indicator yields numbers on the payload of its form's fixture: the catalog, the
    forms and the engine agree on names and shapes."""
    forms = {fid: read_form(x.encode()).fields for fid, (_, x, _) in compiled_forms().items()}
    catalog = load_catalog(FORMS_DIR / "catalog.yaml", forms)
    rows = {}
    for form_id in FORM_IDS:
        payload = fill_form(xform_dir / f"{form_id}.xml", media_dir, load_answers(form_id))
        rows[form_id] = row_values_for_form(parse(payload), forms[form_id])
    filtered_out = set()
    for ind in catalog.indicators.values():
        terms = catalog.terms(ind.id, rows[ind.form])
        if terms is None:
            filtered_out.add(ind.id)
            continue
        numerator, denominator = terms
        assert numerator is not None, ind.id
        assert (denominator is None) == (ind.formula.denominator is None), ind.id
    # The fixtures are an HC III: only the establishment norms of other levels filter out.
    assert filtered_out == {"hc_iv_staffing_vs_norm", "hospital_staffing_vs_norm"}


def test_engine_rejects_a_constraint_violation(media_dir: Path, xform_dir: Path) -> None:
    answers = {**load_answers("dmip_school"), "teachers_present": 99}
    with pytest.raises(EngineError, match="Cannot be more than the teachers on the payroll"):
        fill_form(xform_dir / "dmip_school.xml", media_dir, answers)


def test_engine_reports_missing_required_answers(media_dir: Path, xform_dir: Path) -> None:
    answers = load_answers("dmip_ovc_community")
    del answers["ovc_estimated"]
    with pytest.raises(EngineError, match=r"ovc_estimated \(required\)"):
        fill_form(xform_dir / "dmip_ovc_community.xml", media_dir, answers)


def test_choice_filter_limits_districts_to_the_region(media_dir: Path, xform_dir: Path) -> None:
    """UG-101 (Kalangala) is in Central; offered under Eastern it is not a choice."""
    answers = {**load_answers("dmip_priority_workshop"), "region": "UG-E", "district": "UG-101"}
    with pytest.raises(EngineError, match="not one of the choices offered"):
        fill_form(xform_dir / "dmip_priority_workshop.xml", media_dir, answers)


def test_irrelevant_answers_are_refused(media_dir: Path, xform_dir: Path) -> None:
    answers = {**load_answers("dmip_management_capacity"), "level_assessed": "district_hq"}
    with pytest.raises(EngineError, match="/subcounty: an answer was given but the question is"):
        fill_form(xform_dir / "dmip_management_capacity.xml", media_dir, answers)
    del answers["subcounty"]
    payload = parse(fill_form(xform_dir / "dmip_management_capacity.xml", media_dir, answers))
    # The engine leaves non-relevant questions out of the submission altogether.
    assert payload.find("subcounty") is None
    assert payload.find("district").text == "UG-206"


def test_fixtures_are_valid_json_for_each_form() -> None:
    for form_id in FORM_IDS:
        data = json.loads(
            (FIXTURES_DIR / "answers" / f"{form_id}.json").read_text(encoding="utf-8")
        )
        assert data["cycle"] == "2026/27"


def test_evidence_photos_travel_as_attachments(
    media_dir: Path, xform_dir: Path, tmp_path: Path
) -> None:
    photo = tmp_path / "register.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + b"attendance register" * 20 + b"\xff\xd9")
    out = tmp_path / "attachments"
    out.mkdir()
    answers = {**load_answers("dmip_school"), "attendance_photo": str(photo)}
    payload = parse(fill_form(xform_dir / "dmip_school.xml", media_dir, answers, out))
    name = payload.find("teachers/attendance_photo").text
    assert name and name.endswith(".jpg")
    assert (out / name).read_bytes() == photo.read_bytes()
    assert [p.name for p in out.iterdir()] == [name]


def test_an_unreadable_photo_is_reported(media_dir: Path, xform_dir: Path) -> None:
    answers = {**load_answers("dmip_school"), "attendance_photo": "/nonexistent/photo.jpg"}
    with pytest.raises(EngineError, match=r"attendance_photo: .* is not a readable file"):
        fill_form(xform_dir / "dmip_school.xml", media_dir, answers)


def test_a_department_is_listed_once(media_dir: Path, xform_dir: Path) -> None:
    answers = load_answers("dmip_district_profile")
    answers["staffing"][2]["department"] = "health"
    with pytest.raises(EngineError, match="department is already listed"):
        fill_form(xform_dir / "dmip_district_profile.xml", media_dir, answers)
