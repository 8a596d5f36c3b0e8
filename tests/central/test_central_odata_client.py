"""The feed as a generic OData v4 client reads it: python-odata builds its entity classes from
$metadata and pages through @odata.nextLink; and the metadata document is well-formed EDMX
4.0 whose every type reference resolves (checked with lxml, as a client resolves them)."""

from __future__ import annotations

import pytest
import requests
from lxml import etree
from odata import ODataService
from requests.auth import HTTPBasicAuth

from server.domain.odata import options as odata_options
from server.domain.roles import Role
from tests.central.conftest import PASSWORD
from tests.central.odata_support import (
    FORM_ID,
    Answers,
    feed_url,
    get,
    households,
    process,
    publish_form,
    submit,
)

EDMX = "http://docs.oasis-open.org/odata/ns/edmx"
EDM = "http://docs.oasis-open.org/odata/ns/edm"
NS = {"edmx": EDMX, "edm": EDM}


@pytest.fixture
def five(central, make_person):
    make_person("ena", Role.enumerator, ["S1"])
    make_person("ada", Role.admin)
    publish_form(central)
    for i in range(5):
        submit(
            central, "ena", Answers(f"uuid:s{i}", pupils=i, households=households([30, 5], [40]))
        )
    process(central)
    return central


def test_an_odata_client_reads_the_metadata_and_pages_by_next_link(five, monkeypatch) -> None:
    # Two rows a page, so five submissions (and fifteen members) take several pages.
    monkeypatch.setattr(odata_options, "MAX_PAGE", 2)
    service = ODataService(
        feed_url(five, "/"), auth=HTTPBasicAuth("ada", PASSWORD), reflect_entities=True
    )
    assert set(service.entities) == {
        "Submissions",
        "Submissions.household",
        "Submissions.household.member",
    }
    submissions = service.entities["Submissions"]
    rows = list(service.query(submissions))
    assert [r.__id for r in rows] == [f"uuid:s{i}" for i in (4, 3, 2, 1, 0)]
    assert rows[0].pupils == 4 and rows[0].head["name"] == "Okello"
    assert [r.pupils for r in service.query(submissions).filter(submissions.pupils > 2)] == [4, 3]
    members = list(service.query(service.entities["Submissions.household.member"]))
    assert len(members) == 15
    assert len({m.__id for m in members}) == 15


def test_the_metadata_is_edmx_4_whose_references_resolve(five) -> None:
    answer = get(five, "/$metadata")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/xml")
    assert answer.headers["OData-Version"] == "4.0"
    root = etree.fromstring(answer.content)
    assert root.tag == f"{{{EDMX}}}Edmx" and root.get("Version") == "4.0"
    schemas = root.findall("edmx:DataServices/edm:Schema", NS)
    assert [s.get("Namespace") for s in schemas] == [
        "org.opendatakit.submission",
        f"org.opendatakit.user.{FORM_ID}",
    ]
    defined = {
        f"{s.get('Namespace')}.{t.get('Name')}"
        for s in schemas
        for t in s
        if t.tag in (f"{{{EDM}}}EntityType", f"{{{EDM}}}ComplexType", f"{{{EDM}}}EnumType")
    }
    entity_types = {
        f"{s.get('Namespace')}.{t.get('Name')}"
        for s in schemas
        for t in s.findall("edm:EntityType", NS)
    }
    for prop in root.iter(f"{{{EDM}}}Property"):
        kind = prop.get("Type")
        assert kind.startswith("Edm.") or kind in defined, kind
    for nav in root.iter(f"{{{EDM}}}NavigationProperty"):
        kind = nav.get("Type")
        assert kind.startswith("Collection(") and kind[11:-1] in entity_types, kind
    for entity in root.iter(f"{{{EDM}}}EntityType"):
        (key,) = entity.findall("edm:Key/edm:PropertyRef", NS)
        names = [p.get("Name") for p in entity.findall("edm:Property", NS)]
        assert key.get("Name") == "__id" and names[0] == "__id"
        assert len(names) == len(set(names))
    container = schemas[1].find("edm:EntityContainer", NS)
    assert container.get("Name") == FORM_ID
    assert {s.get("EntityType") for s in container.findall("edm:EntitySet", NS)} == entity_types
    household = schemas[1].find("edm:EntityType[@Name='Submissions.household']", NS)
    assert [p.get("Name") for p in household.findall("edm:Property", NS)][:2] == [
        "__id",
        "__Submissions-id",
    ]
    member = schemas[1].find("edm:EntityType[@Name='Submissions.household.member']", NS)
    assert "__Submissions-household-id" in [
        p.get("Name") for p in member.findall("edm:Property", NS)
    ]


def test_the_service_document_names_every_table(five) -> None:
    answer = requests.get(feed_url(five), auth=("ada", PASSWORD), timeout=30)
    assert answer.status_code == 200
    body = answer.json()
    assert body["@odata.context"] == feed_url(five, "/$metadata")
    assert body["value"] == [
        {"name": name, "kind": "EntitySet", "url": name}
        for name in ("Submissions", "Submissions.household", "Submissions.household.member")
    ]
