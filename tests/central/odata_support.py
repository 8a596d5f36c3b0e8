"""A form for the OData feed's tests and its submissions, stored and processed for real: an
XLSForm with every kind of answer the feed shapes (numbers, dates, a choice, a select_multiple,
a location, a group) and a repeat with a repeat inside it, published by the publishing service,
filled in through Central's /v1/projects/1/submission by enumerators, and flattened by the
worker's own processing (workers/processing.py), so the feed reads rows the worker wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from server.services.forms import publish_xlsform
from server.storage.blobs import BlobStore
from tests.central.conftest import PASSWORD, CentralServer
from tests.fixtures.openrosa import build_xlsform, multipart
from workers import processing

FORM_ID = "household_survey"
VERSION = "2025010101"

SURVEY: list[tuple[str, str, str]] = [
    ("text", "district", "District code"),
    ("text", "subcounty", "Sub-county code"),
    ("integer", "pupils", "Pupils enrolled"),
    ("decimal", "budget", "Budget (millions)"),
    ("date", "visited", "Date of the visit"),
    ("dateTime", "checked_at", "Checked at"),
    ("select_one yn", "open", "Is the school open?"),
    ("select_multiple fac", "facilities", "Facilities"),
    ("geopoint", "location", "Location"),
    ("begin_group", "head", "Head teacher"),
    ("text", "name", "Name"),
    ("integer", "years", "Years in post"),
    ("end_group", "", ""),
    ("begin_repeat", "household", "Household"),
    ("text", "hh_name", "Head of household"),
    ("integer", "size", "Household size"),
    ("begin_repeat", "member", "Member"),
    ("text", "m_name", "Name"),
    ("integer", "age", "Age"),
    ("end_repeat", "", ""),
    ("end_repeat", "", ""),
]
CHOICES = [
    ("yn", "yes", "Yes"),
    ("yn", "no", "No"),
    ("fac", "water", "Water"),
    ("fac", "power", "Power"),
    ("fac", "latrine", "Latrine"),
]


def xlsform(form_id: str = FORM_ID, version: str = VERSION) -> bytes:
    return build_xlsform(SURVEY, CHOICES, form_id, version, "Household survey")


def publish_form(
    central: CentralServer,
    form_id: str = FORM_ID,
    version: str = VERSION,
    draft: bool = False,
) -> None:
    """Publish the XLSForm (or store it as the form's draft) through the publishing service
    the admin pages and `dmip forms publish` use."""
    with central.db() as session:
        blobs = BlobStore(central.settings.attachments_dir)
        publish_xlsform(session, blobs, xlsform(form_id, version), f"{form_id}.xlsx", draft=draft)


@dataclass
class Member:
    name: str
    age: int | None


@dataclass
class Household:
    name: str
    size: int
    members: list[Member] = field(default_factory=list)


@dataclass
class Answers:
    instance_id: str
    district: str = "D1"
    subcounty: str = "S1"
    pupils: int | None = 120
    budget: float | None = 12.5
    visited: str | None = "2025-03-31"
    checked_at: str | None = "2025-03-31T14:05:00.000+03:00"
    open: str | None = "yes"
    facilities: str | None = "water power"
    location: str | None = "0.3476 32.5825 1190 5"
    head_name: str | None = "Okello"
    years: int | None = 4
    households: list[Household] = field(default_factory=list)
    version: str = VERSION
    form_id: str = FORM_ID
    deprecated_id: str | None = None


def _el(name: str, value: Any) -> str:
    return f"<{name}/>" if value is None else f"<{name}>{value}</{name}>"


def submission_xml(a: Answers) -> bytes:
    parts = [
        _el("district", a.district),
        _el("subcounty", a.subcounty),
        _el("pupils", a.pupils),
        _el("budget", a.budget),
        _el("visited", a.visited),
        _el("checked_at", a.checked_at),
        _el("open", a.open),
        _el("facilities", a.facilities),
        _el("location", a.location),
        f"<head>{_el('name', a.head_name)}{_el('years', a.years)}</head>",
    ]
    for hh in a.households:
        members = "".join(
            f"<member>{_el('m_name', m.name)}{_el('age', m.age)}</member>" for m in hh.members
        )
        parts.append(
            f"<household>{_el('hh_name', hh.name)}{_el('size', hh.size)}{members}</household>"
        )
    meta = f"<instanceID>{a.instance_id}</instanceID>"
    if a.deprecated_id:
        meta += f"<deprecatedID>{a.deprecated_id}</deprecatedID>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<data xmlns:orx="http://openrosa.org/xforms" id="{a.form_id}" version="{a.version}">'
        f"{''.join(parts)}<meta>{meta}</meta></data>"
    ).encode()


def submit(central: CentralServer, username: str, answers: Answers) -> None:
    """POST the submission to Central's submission URL as Collect would, with a password."""
    body = multipart(submission_xml(answers))
    response = requests.post(
        f"{central.url}/v1/projects/1/submission",
        data=body.body,
        headers={"Content-Type": body.content_type, "X-OpenRosa-Version": "1.0"},
        auth=(username, PASSWORD),
        timeout=30,
    )
    assert response.status_code == 201, response.text


def process(central: CentralServer) -> int:
    """Run the worker's processing over everything waiting, as the Celery worker does."""
    return processing.process_waiting(central.app.extensions["dmip"].db)


def households(*sizes: Sequence[int]) -> list[Household]:
    """Households with members: households([30, 5], [40]) is two households, the first with
    members aged 30 and 5."""
    return [
        Household(
            f"HH{i + 1}",
            len(ages),
            [Member(f"M{i + 1}.{j + 1}", age) for j, age in enumerate(ages)],
        )
        for i, ages in enumerate(sizes)
    ]


def feed_url(central: CentralServer, path: str = "", form_id: str = FORM_ID) -> str:
    return f"{central.url}/v1/projects/1/forms/{form_id}.svc{path}"


def get(
    central: CentralServer, path: str, username: str | None = "ada", **params: Any
) -> requests.Response:
    """GET a feed URL with Basic auth (none for username None), query options by name
    without their "$" (top=2 is $top=2)."""
    return requests.get(
        feed_url(central, path),
        params={f"${k}": v for k, v in params.items()},
        auth=(username, PASSWORD) if username else None,
        timeout=30,
    )
