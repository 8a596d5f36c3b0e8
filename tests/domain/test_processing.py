"""Validation and flattening of submissions (server/domain/xform), on XML fixtures."""

from __future__ import annotations

from typing import Any

import pytest
from pyxform.xls2xform import convert

from server.domain.xform.flatten import FormSpec, process
from server.domain.xform.schema import read_form

SCHOOL_FORM = """
| survey |
| | type | name | label | required | relevant | calculation |
| | text | school_name | School | yes | | |
| | begin_group | school | School | | | |
| | integer | pupils_total | Pupils | yes | | |
| | decimal | ratio | Ratio | | | |
| | end_group | | | | | |
| | select_one yn | has_water | Water? | yes | | |
| | select_multiple src | sources | Sources | yes | ${has_water} = 'yes' | |
| | date | visit | Visit | | | |
| | dateTime | started | Started | | | |
| | time | opened | Opens | | | |
| | geopoint | loc | Location | | | |
| | begin_repeat | staff | Staff | | | |
| | text | sname | Name | yes | | |
| | integer | age | Age | | | |
| | begin_repeat | quals | Qual | | | |
| | text | qname | Q | | | |
| | end_repeat | | | | | |
| | end_repeat | | | | | |
| | begin_group | extra | Extra | | ${has_water} = 'no' | |
| | integer | wells | Wells | yes | | |
| | end_group | | | | | |
| | calculate | total | | | | ${pupils_total} div 0 |
| | select_one_from_file subcounties.csv | subcounty | SC | | | |
| choices |
| | list_name | name | label |
| | yn | yes | Yes |
| | yn | no | No |
| | src | tap | Tap |
| | src | well | Well |
| settings |
| | form_id | version |
| | school_survey | 2024010101 |
"""


@pytest.fixture(scope="module")
def form() -> FormSpec:
    info = read_form(convert(SCHOOL_FORM, form_name="data").xform.encode())
    return FormSpec(info.xml_form_id, info.version, info.fields)


def submission(body: str, form_id: str = "school_survey", version: str = "2024010101") -> bytes:
    return (
        f'<?xml version="1.0"?><data xmlns:jr="http://openrosa.org/javarosa" '
        f'xmlns:orx="http://openrosa.org/xforms" id="{form_id}" version="{version}">'
        f"{body}<meta><instanceID>uuid:1</instanceID><instanceName>Kira P/S</instanceName>"
        f"<deprecatedID/></meta></data>"
    ).encode()


VALID = (
    "<school_name>Kira P/S</school_name><school><pupils_total>412</pupils_total>"
    "<ratio>52.5</ratio></school><has_water>yes</has_water><sources>tap well</sources>"
    "<visit>2024-03-31</visit><started>2024-03-31T09:15:00.000+03:00</started>"
    "<opened>08:00:00.000+03:00</opened><loc>0.3476 32.5825 1200.5 4.0</loc>"
    "<staff><sname>Okello</sname><age>41</age><quals><qname>Grade III</qname></quals>"
    "<quals><qname>Diploma</qname></quals></staff>"
    "<staff><sname>Namubiru</sname><age/><quals><qname>Degree</qname></quals></staff>"
    "<total>NaN</total><subcounty>any-code-from-the-csv</subcounty>"
)


def messages(result: Any) -> list[str]:
    return [p.message for p in result.problems]


def test_a_valid_submission_is_flattened_into_typed_rows(form: FormSpec) -> None:
    result = process(submission(VALID), form)
    assert messages(result) == []
    top, *repeats = result.rows
    assert (top.repeat_path, top.position, top.parent_position) == ("", 0, None)
    assert top.data["school_name"] == "Kira P/S"
    assert top.data["school/pupils_total"] == 412
    assert top.data["school/ratio"] == 52.5
    assert top.data["sources"] == ["tap", "well"]
    assert top.data["visit"] == "2024-03-31"
    assert top.data["started"] == "2024-03-31T09:15:00+03:00"
    assert top.data["opened"] == "08:00:00+03:00"
    assert top.data["loc"] == {"lat": 0.3476, "lon": 32.5825, "alt": 1200.5, "acc": 4.0}
    assert top.data["total"] == "NaN"  # calculations are typed string unless a bind says so
    assert top.data["meta/instanceName"] == "Kira P/S"
    assert "staff/sname" not in top.data
    shape = [(r.repeat_path, r.position, r.parent_position, r.data) for r in repeats]
    assert shape == [
        ("/data/staff", 1, None, {"sname": "Okello", "age": 41}),
        ("/data/staff/quals", 1, 1, {"qname": "Grade III"}),
        ("/data/staff/quals", 2, 1, {"qname": "Diploma"}),
        ("/data/staff", 2, None, {"sname": "Namubiru", "age": None}),
        ("/data/staff/quals", 3, 2, {"qname": "Degree"}),
    ]


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        (
            "<pupils_total>412<",
            "<pupils_total>abc<",
            "school/pupils_total: 'abc' is not a whole number",
        ),
        (
            "<pupils_total>412<",
            "<pupils_total>4.5<",
            "school/pupils_total: '4.5' is not a whole number",
        ),
        ("<ratio>52.5<", "<ratio>fifty<", "school/ratio: 'fifty' is not a number"),
        (
            "<has_water>yes<",
            "<has_water>maybe<",
            "has_water: 'maybe' is not one of the choices (yes, no)",
        ),
        (
            "<sources>tap well<",
            "<sources>tap river<",
            "sources: 'river' is not one of the choices (tap, well)",
        ),
        ("<visit>2024-03-31<", "<visit>31/03/2024<", "visit: '31/03/2024' is not a date"),
        ("<visit>2024-03-31<", "<visit>2024-02-30<", "visit: '2024-02-30' is not a date"),
        (
            "<started>2024-03-31T",
            "<started>yesterdayT",
            "started: 'yesterdayT09:15:00.000+03:00' is not a date and time",
        ),
        ("<opened>08:00", "<opened>8am", "opened: '8am:00.000+03:00' is not a time of day"),
        (
            "<loc>0.3476 32.5825",
            "<loc>95 32.5825",
            "loc: '95 32.5825 1200.5 4.0' is not a location on Earth",
        ),
        ("<loc>0.3476 32.5825 1200.5 4.0<", "<loc>Kampala<", "loc: 'Kampala' is not a location"),
        ("<age>41<", "<age>forty<", "staff[1]/age: 'forty' is not a whole number"),
        (
            "<school_name>Kira P/S</school_name>",
            "<school_name/>",
            "school_name: an answer is required, but none was given",
        ),
        (
            "<school_name>Kira P/S</school_name>",
            "",
            "school_name: an answer is required, but none was given",
        ),
        (
            "<sname>Namubiru<",
            "<sname> <",
            "staff[2]/sname: an answer is required, but none was given",
        ),
        ("<visit>", "<tea>1</tea><visit>", "tea: this is not a question of this form version"),
        (
            "<qname>Degree</qname>",
            "<qname>Degree</qname><x/>",
            "staff[2]/quals[1]/x: this is not a question",
        ),
        (
            "<visit>",
            "<visit>2024-01-01</visit><visit>",
            "visit: appears more than once, but it is not a repeat",
        ),
        (
            "<school>",
            "<school><pupils_total>1</pupils_total></school><school>",
            "school: appears more than once",
        ),
        (
            "<ratio>52.5</ratio>",
            "<ratio><v>1</v></ratio>",
            "school/ratio: expected an answer, found further elements",
        ),
    ],
)
def test_each_problem_is_named_with_its_field_and_a_plain_sentence(
    form: FormSpec, replace: str, by: str, expected: str
) -> None:
    assert replace in VALID
    result = process(submission(VALID.replace(replace, by, 1)), form)
    assert not result.ok
    assert any(m.startswith(expected) for m in messages(result)), messages(result)
    assert len(result.problems) == 1, messages(result)


def test_all_problems_are_reported_together(form: FormSpec) -> None:
    body = VALID.replace("<pupils_total>412<", "<pupils_total>x<").replace(
        "<has_water>yes<", "<has_water><"
    )
    result = process(submission(body), form)
    assert messages(result) == [
        "school/pupils_total: 'x' is not a whole number",
        "has_water: an answer is required, but none was given",
    ]
    assert result.failure_reason() == "\n".join(messages(result))


def test_required_questions_under_a_relevance_condition_are_not_enforced(form: FormSpec) -> None:
    # `sources` is required but relevant only if there is water; `extra/wells` is required in
    # a group with a relevance condition. Relevance is evaluated on the phone, not here.
    body = VALID.replace("<sources>tap well</sources>", "")
    result = process(submission(body), form)
    assert result.ok, messages(result)
    assert "extra/wells" not in result.rows[0].data


def test_a_submission_for_another_form_or_version_is_refused(form: FormSpec) -> None:
    assert messages(process(submission(VALID, form_id="clinic"), form)) == [
        "The submission is for form 'clinic', not 'school_survey'."
    ]
    assert messages(process(submission(VALID, version="1"), form)) == [
        "The submission was filled in on version '1' of the form, not version '2024010101'."
    ]
    wrong_root = submission(VALID).replace(b"<data ", b"<survey ").replace(b"</data>", b"</survey>")
    assert messages(process(wrong_root, form)) == [
        "The submission's root element is <survey>, but this form's is <data>."
    ]


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (b"", "The submission could not be read: The XML document is empty."),
        (
            b"<data id='school_survey'>",
            "The submission could not be read: The XML is not well-formed",
        ),
        (
            b'<!DOCTYPE d [<!ENTITY a "aaaa">]><data>&a;</data>',
            "The submission could not be read: The XML contains a DOCTYPE",
        ),
    ],
)
def test_unreadable_xml_is_a_problem_not_an_exception(
    form: FormSpec, xml: bytes, expected: str
) -> None:
    result = process(xml, form)
    assert result.rows == []
    assert messages(result)[0].startswith(expected)


def test_many_choices_are_shortened_in_the_message() -> None:
    choices = [f"c{i}" for i in range(20)]
    spec = FormSpec(
        "f",
        "1",
        [
            {
                "path": "/data/pick",
                "name": "pick",
                "kind": "field",
                "type": "string",
                "select": "one",
                "choices": choices,
                "repeat": None,
            },
        ],
    )
    result = process(b'<data id="f" version="1"><pick>zz</pick></data>', spec)
    assert messages(result) == [
        "pick: 'zz' is not one of the choices (c0, c1, c2, c3, c4, c5, c6, c7, ... (20 in all))"
    ]


@pytest.mark.parametrize(
    ("type_", "text", "value"),
    [
        ("boolean", "true", True),
        ("boolean", "0", False),
        ("xsd:int", "-7", -7),
        ("decimal", "1e3", 1000.0),
        ("decimal", ".5", 0.5),
        ("geopoint", "1 2", {"lat": 1.0, "lon": 2.0, "alt": None, "acc": None}),
        (
            "geotrace",
            "1 2 0 0;3 4 0 0",
            [
                {"lat": 1.0, "lon": 2.0, "alt": 0.0, "acc": 0.0},
                {"lat": 3.0, "lon": 4.0, "alt": 0.0, "acc": 0.0},
            ],
        ),
        ("binary", "photo-1.jpg", "photo-1.jpg"),
    ],
)
def test_values_of_each_type(type_: str, text: str, value: object) -> None:
    spec = FormSpec(
        "f", "", [{"path": "/data/q", "name": "q", "kind": "field", "type": type_, "repeat": None}]
    )
    result = process(f'<data id="f"><q>{text}</q></data>'.encode(), spec)
    assert messages(result) == []
    assert result.rows[0].data == {"q": value}


def test_decimal_infinity_is_refused_and_nan_only_for_calculations() -> None:
    fields: list[dict[str, Any]] = [
        {"path": "/data/a", "name": "a", "kind": "field", "type": "decimal", "repeat": None},
        {"path": "/data/b", "name": "b", "kind": "field", "type": "decimal", "repeat": None},
        {
            "path": "/data/c",
            "name": "c",
            "kind": "field",
            "type": "int",
            "calculate": True,
            "repeat": None,
        },
    ]
    xml = b'<data id="f"><a>1e999</a><b>NaN</b><c>NaN</c></data>'
    result = process(xml, FormSpec("f", "", fields))
    assert messages(result) == [
        "a: '1e999' is too large a number (less than 10^15 either way)",
        "b: 'NaN' is not a number",
    ]
    assert result.rows[0].data["c"] is None  # a calculation over blank answers: no value
