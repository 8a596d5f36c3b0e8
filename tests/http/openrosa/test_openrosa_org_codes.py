"""The place a submission names, as the receiver resolves it: a code the register does not have
is refused (400, naming the code), never stored unscoped; a code in other case or with spaces
around it is the register's unit, stored under it and counted in its indicators."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import openpyxl
import pytest
from lxml import etree
from pyxform.xls2xform import convert
from sqlalchemy import func, select

from server.aggregation import sums
from server.db import utcnow
from server.domain.xform.schema import read_form
from server.models import Aggregate, Form, FormVersion, OrgUnit, Submission
from server.models.forms import VersionState
from server.services.orgunits import import_org_units, rows_from_mappings
from tests.fixtures import aggregation as fx
from tests.fixtures.openrosa import add_user, basic, multipart, seed_org

RESPONSE = "{http://openrosa.org/http/response}"


def _located_xlsform() -> bytes:
    """The aggregation fixture's school form with a sub-county question, so the receiver reads
    a place from it."""
    book = openpyxl.load_workbook(io.BytesIO(fx.xlsform()))
    book["survey"].insert_rows(2)
    for column, value in enumerate(("text", "subcounty", "Sub-county code"), start=1):
        book["survey"].cell(row=2, column=column, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def world(db, tmp_path: Path):  # type: ignore[no-untyped-def]
    units = seed_org(db)
    xform = convert(_located_xlsform(), file_type=".xlsx").xform.encode("utf-8")
    form = Form(xml_form_id=fx.FORM_ID, title="Located school")
    db.add(form)
    db.flush()
    version = FormVersion(
        form_id=form.id,
        version="1",
        title="Located school",
        state=VersionState.open,
        xform=xform,
        md5=hashlib.md5(xform).hexdigest(),
        schema=read_form(xform).fields,
        published_at=utcnow(),
    )
    db.add(version)
    db.flush()
    form.current_version_id = version.id
    db.commit()
    add_user(db, "ann", "enumerator", ("D1",))
    return {"units": {code: unit.id for code, unit in units.items()}, "catalog": tmp_path}


def _xml(instance_id: str, subcounty: str) -> bytes:
    xml = fx.instance_xml(instance_id, fx.School(pupils=100))
    return xml.replace(b"<cycle>", f"<subcounty>{subcounty}</subcounty><cycle>".encode(), 1)


def _post(client, xml: bytes, user: str = "ann"):  # type: ignore[no-untyped-def]
    body = multipart(xml)
    return client.post(
        "/submission", data=body.body, content_type=body.content_type, headers=basic(user)
    )


def _message(response) -> str:  # type: ignore[no-untyped-def]
    element = etree.fromstring(response.data).find(f"{RESPONSE}message")
    assert element is not None
    return str(element.text)


@pytest.mark.parametrize("code", ["UG-999", "s9", "S1 X", "D1" * 40])
def test_a_code_not_in_the_register_is_refused_naming_it(client, world, db, code: str) -> None:  # type: ignore[no-untyped-def]
    response = _post(client, _xml(fx.new_instance_id(), code))
    assert response.status_code == 400
    shown = code[:64]
    assert _message(response).startswith(f"The org unit code '{shown}' is not in the register;")
    assert db.scalar(select(func.count()).select_from(Submission)) == 0


@pytest.mark.parametrize("code", ["s1", " S1 ", "\ts1\n"])
def test_a_code_in_other_case_is_stored_under_the_unit_and_counted(
    client, world, db, code: str
) -> None:  # type: ignore[no-untyped-def]
    iid = fx.new_instance_id()
    assert _post(client, _xml(iid, code)).status_code == 201
    row = db.scalar(select(Submission).where(Submission.instance_id == iid))
    assert row is not None and row.org_unit_id == world["units"]["S1"]
    catalog = fx.write_catalog(world["catalog"])
    assert fx.process(db, row.id, catalog) == "processed"
    db.expire_all()
    assert db.get(Submission, row.id).counted
    pupils = {
        a.org_unit_id: sums.partial_of(a).sum()
        for a in db.scalars(select(Aggregate).where(Aggregate.indicator_id == "pupils_total"))
    }
    assert pupils[world["units"]["S1"]] == 100


def test_the_scope_check_reads_the_resolved_unit(client, world) -> None:  # type: ignore[no-untyped-def]
    response = _post(client, _xml(fx.new_instance_id(), "s2"))
    assert response.status_code == 403
    assert "(S2)" in _message(response) and "outside the area" in _message(response)


def test_codes_enter_the_register_upper_case(db) -> None:  # type: ignore[no-untyped-def]
    seed_org(db)
    report = import_org_units(
        db, rows_from_mappings([{"code": " d1-s9 ", "name": "New", "level": "subcounty",
                                 "parent_code": "d1"}])
    )  # fmt: skip
    db.commit()
    assert report.added == ["D1-S9"] and not report.rejected
    unit = db.scalar(select(OrgUnit).where(OrgUnit.code == "D1-S9"))
    assert unit is not None and unit.path == "/UG/UG-C/D1/D1-S9/"
