"""The OData feed's pure parts: tables and names from a field list, Central's join ids and
navigation links, the JSON of answers, and the query options read strictly."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

from server.domain.odata.ids import Tree
from server.domain.odata.model import build_model, identifier
from server.domain.odata.options import MAX_PAGE, parse_options
from server.domain.odata.selection import resolve_select
from server.domain.odata.skiptoken import make_skiptoken
from server.domain.odata.values import geo_line, geopoint, plan, render
from server.domain.problems import Problem


def _field(path: str, type_: str = "string", repeat: str | None = None, **extra: Any) -> dict:
    return {
        "path": path,
        "name": path.rsplit("/", 1)[1],
        "kind": "field",
        "type": type_,
        "repeat": repeat,
        **extra,
    }


def _node(path: str, kind: str, repeat: str | None = None) -> dict:
    return {"path": path, "name": path.rsplit("/", 1)[1], "kind": kind, "repeat": repeat}


# A group of repeats of a repeat with a group in it: children > child > toys > toy.
NESTED = [
    _field("/data/name"),
    _node("/data/children", "group"),
    _node("/data/children/child", "repeat"),
    _field("/data/children/child/name", repeat="/data/children/child"),
    _node("/data/children/child/toys", "group", "/data/children/child"),
    _node("/data/children/child/toys/toy", "repeat", "/data/children/child"),
    _field("/data/children/child/toys/toy/name", repeat="/data/children/child/toys/toy"),
    _node("/data/meta", "group"),
    _field("/data/meta/instanceID"),
]


def test_tables_are_named_by_their_path_and_keyed_to_their_parent() -> None:
    model = build_model("double", NESTED)
    assert [t.name for t in model.tables] == [
        "Submissions",
        "Submissions.children.child",
        "Submissions.children.child.toys.toy",
    ]
    assert [t.parent_key for t in model.tables] == [
        None,
        "__Submissions-id",
        "__Submissions-children-child-id",
    ]
    toy = model.tables[2]
    assert [f.key for f in toy.fields()] == ["name"]
    assert [f.key for f in model.main.fields()] == ["name", "meta/instanceID"]


def test_identifiers_are_centrals() -> None:
    assert identifier("school-name.v2") == "school_name_v2"
    assert identifier("1st") == "_1st"
    assert identifier("ok_name") == "ok_name"


def test_repeat_row_ids_and_links_are_the_ones_central_publishes() -> None:
    """Central's own tests show these ids for a submission 'double' of this shape: three
    children, the second with toys."""
    model = build_model("double", NESTED)
    child, toy = model.tables[1], model.tables[2]
    # The worker numbers a repeat's rows through the submission and names their parent row.
    tree = Tree(
        "double",
        [
            ("/data/children/child", 1, None),
            ("/data/children/child", 2, None),
            ("/data/children/child", 3, None),
            ("/data/children/child/toys/toy", 1, 2),
            ("/data/children/child/toys/toy", 2, 2),
            ("/data/children/child/toys/toy", 3, 3),
        ],
    )
    assert [tree.row_id(child, p) for p in (1, 2, 3)] == [
        "46ebf42ee83ddec5028c42b2c054402d1e700208",
        "b6e93a81a53eed0566e65e472d4a4b9ae383ee6d",
        "8954b393f82c1833abb19be08a3d6cb382171f54",
    ]
    assert [tree.row_id(toy, p) for p in (1, 2)] == [
        "a9058d7b2ed9557205ae53f5b1dc4224043eca2a",
        "8d2dc7bd3e97a690c0813e646658e51038eb4144",
    ]
    # The third child's first toy counts from 0 again within that child.
    third = hashlib.sha1(b"Submissions#double%%children#%%child#2%%toys#%%toy#0").hexdigest()
    assert tree.row_id(toy, 3) == third
    assert tree.parent_id(toy, 1, 2) == "b6e93a81a53eed0566e65e472d4a4b9ae383ee6d"
    assert tree.parent_id(child, 1, None) == "double"
    assert tree.link(toy, 2) == (
        "Submissions('double')/children/child('b6e93a81a53eed0566e65e472d4a4b9ae383ee6d')/toys/toy"
    )
    assert Tree("uuid:a b").link(child, None) == "Submissions('uuid%3Aa%20b')/children/child"


def test_answers_render_as_central_writes_them() -> None:
    schema = [
        _field("/data/n", "int"),
        _field("/data/when", "dateTime"),
        _field("/data/many", "string", select="multiple"),
        _node("/data/g", "group"),
        _field("/data/g/x", "decimal"),
        _field("/data/where", "geopoint"),
    ]
    main = build_model("f", schema).main
    data = {
        "n": 3,
        "when": "2024-03-31T14:05:00+03:00",
        "many": ["a", "b"],
        "where": {"lat": 0.5, "lon": 32.0, "alt": None, "acc": None},
    }
    assert render(plan(main.nodes, wkt=False), data, None) == {
        "n": 3,
        "when": "2024-03-31T14:05:00.000+03:00",
        "many": "a b",
        "g": {"x": None},
        "where": {"type": "Point", "coordinates": [32.0, 0.5]},
    }
    assert render(plan(main.nodes, wkt=True), data, None)["where"] == "POINT (32 0.5)"
    # Before the worker has read a submission, every question is there, null.
    assert render(plan(main.nodes, wkt=False), None, None)["g"] == {"x": None}


def test_locations_as_geojson_and_wkt() -> None:
    point = {"lat": 0.3476, "lon": 32.5825, "alt": 1190.0, "acc": 5.0}
    assert geopoint(point, False) == {
        "type": "Point",
        "coordinates": [32.5825, 0.3476, 1190.0],
        "properties": {"accuracy": 5.0},
    }
    assert geopoint(point, True) == "POINT (32.5825 0.3476 1190)"
    line = [{"lat": 1.0, "lon": 2.0, "alt": None, "acc": 3.0}, {"lat": 1.5, "lon": 2.5}]
    assert geo_line(line, False, polygon=False) == {
        "type": "LineString",
        "coordinates": [[2.0, 1.0], [2.5, 1.5]],
        "properties": {"accuracies": [3.0, None]},
    }
    assert geo_line(line, True, polygon=True) == "POLYGON ((2 1,2.5 1.5))"


def test_select_keeps_the_groups_around_what_it_names() -> None:
    schema = [
        _field("/data/a"),
        _node("/data/g", "group"),
        _field("/data/g/b"),
        _field("/data/g/c"),
    ]
    main = build_model("f", schema).main
    chosen = resolve_select(main, ["g/b", "__system/submitterId"])
    assert chosen.paths == {"/data/g", "/data/g/b"}
    assert not chosen.id and chosen.system == ("submitterId",)
    out = render(plan(main.nodes, False, chosen.paths), {"a": 1, "g/b": 2, "g/c": 3}, None)
    assert out == {"g": {"b": 2}}
    with pytest.raises(Problem) as missing:
        resolve_select(main, ["nope"])
    assert missing.value.status == 400 and missing.value.code == "odata.property_not_found"


@pytest.mark.parametrize(
    ("args", "status"),
    [
        ({"$top": "-1"}, 400),
        ({"$top": "1.5"}, 400),
        ({"$top": "\u0661"}, 400),
        ({"$top": "9" * 40}, 400),
        ({"$skip": "abc"}, 400),
        ({"$count": "yes"}, 400),
        ({"$wkt": "1"}, 400),
        ({"$filter": "age gt"}, 400),
        ({"$filter": "(" * 3000}, 400),
        ({"$filter": "a eq 'x\x00'"}, 400),
        ({"$orderby": "__id sideways"}, 400),
        ({"$skiptoken": "nonsense"}, 400),
        ({"$skiptoken": "01" + base64.b64encode(b"[1]").decode()}, 400),
        ({"$fitler": "a eq 1"}, 400),
        ({"$expand": "household"}, 501),
        ({"$expand": "*", "$select": "a"}, 501),
        ({"$search": "x"}, 501),
        ({"$format": "xml"}, 406),
    ],
)
def test_bad_options_are_refused(args: dict[str, str], status: int) -> None:
    with pytest.raises(Problem) as refused:
        parse_options(args)
    assert refused.value.status == status


def test_options_read() -> None:
    options = parse_options(
        {"$top": "10000000", "$skip": "5", "$count": "True", "$wkt": "false", "other": "x"}
    )
    assert options.page_size == MAX_PAGE and options.skip == 5 and options.count
    token = make_skiptoken({"instanceId": "uuid:é", "k": ["x", 1]})
    assert token.startswith("01")
    assert json.loads(base64.b64decode(token[2:]))["instanceId"] == "uuid:é"
    # A skiptoken says where to go on; $skip is then ignored, as in Central.
    assert parse_options({"$skip": "5", "$skiptoken": token}).skip == 0
    assert parse_options({"$filter": "$root/Submissions/__id eq 'a'"}).filter is not None
