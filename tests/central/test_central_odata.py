"""The OData feed through pyodk's `submissions.get_table`, which reads it as it reads
Central's: the rows Central would return for the same submissions (its shapes, ids and links,
worked out here by hand), with top, skip, count, filter, expand, select and wkt, for the
top-level table and both repeat tables."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from server.domain.roles import Role
from tests.central.odata_support import (
    FORM_ID,
    VERSION,
    Answers,
    households,
    process,
    publish_form,
    submit,
)

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _members_link(instance: str, household_id: str) -> str:
    return f"Submissions('uuid%3A{instance}')/household('{household_id}')/member"


@pytest.fixture
def surveyed(central, make_person) -> Any:
    """Three submissions by two enumerators, oldest first: two in D1 (with households and
    members), one in D2 with none; processed by the worker's own processing."""
    make_person("ena", Role.enumerator, ["S1"])
    make_person("enb", Role.enumerator, ["S2"])
    make_person("ada", Role.admin)
    publish_form(central)
    submit(central, "ena", Answers("uuid:a1", pupils=80, households=households([30, 5], [40])))
    submit(central, "ena", Answers("uuid:a2", pupils=150, budget=None, households=households([22])))
    submit(
        central,
        "enb",
        Answers("uuid:b1", district="D2", subcounty="S2", pupils=None, location=None, open="no"),
    )
    assert process(central) == 3
    return central


def test_the_main_table_holds_what_central_would(surveyed, pyodk_client) -> None:
    client = pyodk_client("ada")
    table = client.submissions.get_table(FORM_ID)
    assert table["@odata.context"].endswith(
        f"/v1/projects/1/forms/{FORM_ID}.svc/$metadata#Submissions"
    )
    assert "@odata.nextLink" not in table and "@odata.count" not in table
    rows = table["value"]
    assert [r["__id"] for r in rows] == ["uuid:b1", "uuid:a2", "uuid:a1"]  # newest first
    a1 = rows[2]
    system = a1.pop("__system")
    assert a1 == {
        "__id": "uuid:a1",
        "district": "D1",
        "subcounty": "S1",
        "pupils": 80,
        "budget": 12.5,
        "visited": "2025-03-31",
        "checked_at": "2025-03-31T14:05:00.000+03:00",
        "open": "yes",
        "facilities": "water power",
        "location": {
            "type": "Point",
            "coordinates": [32.5825, 0.3476, 1190],
            "properties": {"accuracy": 5},
        },
        "head": {"name": "Okello", "years": 4},
        "household@odata.navigationLink": "Submissions('uuid%3Aa1')/household",
        "meta": {"instanceID": "uuid:a1"},
    }
    assert TIMESTAMP.match(system.pop("submissionDate"))
    submitter = system.pop("submitterId")
    assert submitter.isdigit()
    assert system == {
        "updatedAt": None,
        "submitterName": "ena",
        "attachmentsPresent": 0,
        "attachmentsExpected": 0,
        "status": None,
        "reviewState": None,
        "deviceId": None,
        "edits": 0,
        "formVersion": VERSION,
        "deletedAt": None,
    }
    # No households: no link to them; no answer: null, as in Central.
    b1 = rows[0]
    assert "household@odata.navigationLink" not in b1
    assert b1["pupils"] is None and b1["location"] is None and b1["open"] == "no"


def test_repeat_tables_carry_centrals_ids_and_parent_keys(surveyed, pyodk_client) -> None:
    client = pyodk_client("ada")
    households_table = client.submissions.get_table(FORM_ID, table_name="Submissions.household")
    assert households_table["@odata.context"].endswith("$metadata#Submissions.household")
    hh = {
        "a1/0": _sha1("Submissions#uuid:a1%%household#0"),
        "a1/1": _sha1("Submissions#uuid:a1%%household#1"),
        "a2/0": _sha1("Submissions#uuid:a2%%household#0"),
    }
    assert households_table["value"] == [
        {
            "__id": hh["a2/0"],
            "hh_name": "HH1",
            "size": 1,
            "member@odata.navigationLink": _members_link("a2", hh["a2/0"]),
            "__Submissions-id": "uuid:a2",
        },
        {
            "__id": hh["a1/0"],
            "hh_name": "HH1",
            "size": 2,
            "member@odata.navigationLink": _members_link("a1", hh["a1/0"]),
            "__Submissions-id": "uuid:a1",
        },
        {
            "__id": hh["a1/1"],
            "hh_name": "HH2",
            "size": 1,
            "member@odata.navigationLink": _members_link("a1", hh["a1/1"]),
            "__Submissions-id": "uuid:a1",
        },
    ]
    members = client.submissions.get_table(FORM_ID, table_name="Submissions.household.member")
    assert members["value"] == [
        {
            "__id": _sha1("Submissions#uuid:a2%%household#0%%member#0"),
            "m_name": "M1.1",
            "age": 22,
            "__Submissions-household-id": hh["a2/0"],
        },
        {
            "__id": _sha1("Submissions#uuid:a1%%household#0%%member#0"),
            "m_name": "M1.1",
            "age": 30,
            "__Submissions-household-id": hh["a1/0"],
        },
        {
            "__id": _sha1("Submissions#uuid:a1%%household#0%%member#1"),
            "m_name": "M1.2",
            "age": 5,
            "__Submissions-household-id": hh["a1/0"],
        },
        {
            # The second household's first member counts from 0 again.
            "__id": _sha1("Submissions#uuid:a1%%household#1%%member#0"),
            "m_name": "M2.1",
            "age": 40,
            "__Submissions-household-id": hh["a1/1"],
        },
    ]


def test_top_skip_and_count(surveyed, pyodk_client) -> None:
    client = pyodk_client("ada")
    page = client.submissions.get_table(FORM_ID, top=1, skip=1, count=True)
    assert [r["__id"] for r in page["value"]] == ["uuid:a2"]
    assert page["@odata.count"] == 3
    assert "$skiptoken=01" in page["@odata.nextLink"].replace("%24", "$")
    assert "skip" not in page["@odata.nextLink"].replace("%24skiptoken", "")
    members = client.submissions.get_table(
        FORM_ID, table_name="Submissions.household.member", top=2, skip=1, count=True
    )
    assert [m["age"] for m in members["value"]] == [30, 5]
    assert members["@odata.count"] == 4
    empty = client.submissions.get_table(FORM_ID, skip=10, count=True)
    assert empty["value"] == [] and empty["@odata.count"] == 3


def test_filter_on_metadata_and_questions(surveyed, pyodk_client) -> None:
    client = pyodk_client("ada")

    def ids(table: str = "Submissions", **kwargs: Any) -> list[str]:
        rows = client.submissions.get_table(FORM_ID, table_name=table, **kwargs)["value"]
        return [r.get("__Submissions-id", r.get("__id")) for r in rows]

    assert ids(filter="pupils gt 100") == ["uuid:a2"]
    assert ids(filter="pupils eq null") == ["uuid:b1"]
    assert ids(filter="pupils le 80 or open eq 'no'") == ["uuid:b1", "uuid:a1"]
    assert ids(filter="head/name eq 'Okello' and budget eq null") == ["uuid:a2"]
    assert ids(filter="visited eq 2025-03-31 and checked_at lt 2025-03-31T12:00:00Z") == [
        "uuid:b1",
        "uuid:a2",
        "uuid:a1",
    ]
    assert ids(filter="__id eq 'uuid:a1'") == ["uuid:a1"]
    since = "__system/submissionDate gt 2020-01-01T00:00:00Z"
    assert ids(filter=f"{since} and year(__system/submissionDate) ge 2020") == [
        "uuid:b1",
        "uuid:a2",
        "uuid:a1",
    ]
    assert ids(filter="__system/submissionDate lt 2020-01-01") == []
    assert ids(filter="__system/reviewState eq null and __system/updatedAt eq null", count=True)
    assert ids(filter="contains(district, '2')") == ["uuid:b1"]
    # A repeat's table, by its own questions and its submission's ($root, as in Central).
    assert ids("Submissions.household", filter="size gt 1") == ["uuid:a1"]
    assert ids("Submissions.household", filter="$root/Submissions/pupils gt 100") == ["uuid:a2"]
    assert ids("Submissions.household", filter="__Submissions-id eq 'uuid:a1'") == [
        "uuid:a1",
        "uuid:a1",
    ]
    ages = client.submissions.get_table(
        FORM_ID,
        table_name="Submissions.household.member",
        filter="age lt 35 and $root/Submissions/__id eq 'uuid:a1'",
    )["value"]
    assert [m["age"] for m in ages] == [30, 5]
    counted = client.submissions.get_table(FORM_ID, filter="pupils ge 80", count=True, top=1)
    assert counted["@odata.count"] == 2 and len(counted["value"]) == 1


def test_select_expand_and_wkt(surveyed, pyodk_client) -> None:
    client = pyodk_client("ada")
    chosen = client.submissions.get_table(
        FORM_ID, select="__id,pupils,head/name,__system/submitterName", filter="__id eq 'uuid:a1'"
    )["value"]
    assert chosen == [
        {
            "__id": "uuid:a1",
            "pupils": 80,
            "head": {"name": "Okello"},
            "__system": {"submitterName": "ena"},
        }
    ]
    members = client.submissions.get_table(
        FORM_ID, table_name="Submissions.household.member", select="age", top=1
    )["value"]
    assert members == [{"age": 22}]
    expanded = client.submissions.get_table(FORM_ID, expand="*", filter="__id eq 'uuid:a1'")
    (a1,) = expanded["value"]
    first, second = a1["household"]
    assert a1["household@odata.navigationLink"] == "Submissions('uuid%3Aa1')/household"
    assert first["__id"] == _sha1("Submissions#uuid:a1%%household#0")
    assert "__Submissions-id" not in first  # as Central: nested rows carry no parent key
    assert [(m["m_name"], m["age"]) for m in first["member"]] == [("M1.1", 30), ("M1.2", 5)]
    assert [m["m_name"] for m in second["member"]] == ["M2.1"]
    located = client.submissions.get_table(
        FORM_ID, wkt=True, select="location", filter="__id eq 'uuid:a1'"
    )
    assert located["value"] == [{"location": "POINT (32.5825 0.3476 1190)"}]
