"""Submission pages: every role on every page and action, inside and outside its scope; what
each role's table lists; filters and stable pages; bulk review; the enumerator's issues list;
answers, repeats and photos on a submission's page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import FormVersion, Submission, SubmissionReview
from server.models.submissions import ReviewState
from server.settings import Settings
from tests.exports.test_exports import PASSWORD, PHOTO, World, build_world, school_xml, submit
from tests.web_client import csrf_token, sign_in

ROLES = ("anonymous", "admin", "coordinator", "subcounty_staff", "enumerator", "other_enum")
EVERYONE = frozenset(ROLES) - {"anonymous"}


@pytest.fixture
def world(app: Flask, settings: Settings) -> Iterator[World]:
    w = build_world(settings)
    yield w
    w.db.dispose()


def client_for(app: Flask, role: str) -> FlaskClient:
    client = app.test_client()
    if role != "anonymous":
        assert sign_in(client, role, PASSWORD).status_code == 302
    return client


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    allowed: frozenset[str]
    data: tuple[tuple[str, str], ...] = ()


def case(method: str, path: str, allowed: set[str] | frozenset[str], **data: str) -> Case:
    return Case(method, path, frozenset(allowed), tuple(data.items()))


# alpha and bravo: S1 (district D1), sent by "enumerator"; charlie: S2 (D2), by "other_enum".
CASES = [
    case("GET", "/submissions", EVERYONE),
    case("GET", "/submissions/issues", EVERYONE),
    case("GET", "/submissions/forms/{form}", EVERYONE),
    case("GET", "/submissions/{alpha}", {"admin", "coordinator", "subcounty_staff", "enumerator"}),
    case("GET", "/submissions/{charlie}", {"admin", "other_enum"}),
    case(
        "GET",
        "/submissions/{alpha}/attachments/p1.jpg",
        {"admin", "coordinator", "subcounty_staff", "enumerator"},
    ),
    case("POST", "/submissions/{alpha}/review", {"admin", "coordinator"}, state="approved"),
    case("POST", "/submissions/{charlie}/review", {"admin"}, state="rejected"),
    case("POST", "/submissions/forms/{form}/review", {"admin"}, state="rejected", submission="{c}"),
    case("POST", "/submissions/{charlie}/delete", {"admin"}),
]


@pytest.mark.parametrize("role", ROLES)
def test_role_by_page_and_action(app: Flask, world: World, role: str) -> None:
    client = client_for(app, role)
    token = csrf_token(client)
    ids = {"form": world.form_id, "alpha": world.ids["alpha"], "charlie": world.ids["charlie"]}
    for c in CASES:
        path = c.path.format(**ids)
        data = {k: v.format(c=ids["charlie"]) for k, v in c.data}
        if c.method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data={"csrf_token": token, **data})
        response.close()  # a file response holds its file open until closed
        where = f"{role} {c.method} {path}"
        if role == "anonymous":
            expected = 302 if c.method == "GET" else 401
            assert response.status_code == expected, where
        elif role in c.allowed:
            assert response.status_code in (200, 302), where
            assert "/login" not in (response.location or ""), where
        else:
            assert response.status_code == 403, where
    with world.db.session() as s:
        charlie = s.get(Submission, world.ids["charlie"])
        assert charlie is not None
        # Only an admin could touch the other district's submission.
        touched = charlie.deleted_at is not None or charlie.review_state != ReviewState.received
        assert touched == (role == "admin")


def listed(client: FlaskClient, path: str) -> set[str]:
    page = client.get(path)
    assert page.status_code == 200, path
    html = page.get_data(as_text=True)
    return {i for i in ("uuid:ex-1", "uuid:ex-2", "uuid:ex-3") if i in html}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("admin", {"uuid:ex-1", "uuid:ex-2", "uuid:ex-3"}),
        ("coordinator", {"uuid:ex-1", "uuid:ex-2"}),
        ("subcounty_staff", {"uuid:ex-1", "uuid:ex-2"}),
        ("enumerator", {"uuid:ex-1", "uuid:ex-2"}),
        ("other_enum", {"uuid:ex-3"}),
    ],
)
def test_each_role_lists_only_what_it_may_see(
    app: Flask, world: World, role: str, expected: set[str]
) -> None:
    client = client_for(app, role)
    assert listed(client, f"/submissions/forms/{world.form_id}") == expected
    # Asking for another place does not widen the view.
    assert listed(client, f"/submissions/forms/{world.form_id}?org_unit=S2") <= expected


def test_filters_and_bad_values(app: Flask, world: World) -> None:
    client = client_for(app, "admin")
    base = f"/submissions/forms/{world.form_id}"
    assert listed(client, f"{base}?org_unit=D2") == {"uuid:ex-3"}
    assert listed(client, f"{base}?submitter={world.users['other_enum']}") == {"uuid:ex-3"}
    assert listed(client, f"{base}?review=has_issues") == set()
    assert listed(client, f"{base}?demo=yes") == set()
    assert listed(client, f"{base}?status=processed&demo=no&from=2000-01-01") == {
        "uuid:ex-1",
        "uuid:ex-2",
        "uuid:ex-3",
    }
    for query, words in [
        ("from=yesterday", "is not a date"),
        ("review=fine", "is not one of"),
        ("submitter=x", "is not a user number"),
        ("before=-1", "is not a submission number"),
    ]:
        response = client.get(f"{base}?{query}")
        assert response.status_code == 400, query
        assert words in response.get_data(as_text=True), query
    assert client.get("/submissions/forms/999999").status_code == 404
    assert client.get("/submissions/999999").status_code == 404


def test_pages_are_stable_when_new_submissions_arrive(app: Flask, world: World) -> None:
    with world.db.session() as s:
        version = s.get(FormVersion, world.version_id)
        assert version is not None
        for i in range(55):
            submit(s, world.blobs, version, school_xml(f"uuid:p-{i:03d}"), world.units["S1"], None)
    client = client_for(app, "admin")
    first = client.get(f"/submissions/forms/{world.form_id}").get_data(as_text=True)
    assert "uuid:p-054" in first and "uuid:p-005" in first and "uuid:p-004" not in first
    older = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    with world.db.session() as s:
        version = s.get(FormVersion, world.version_id)
        assert version is not None
        submit(s, world.blobs, version, school_xml("uuid:p-new"), world.units["S1"], None)
    second = client.get(older).get_data(as_text=True)
    # The second page is what followed the first, whatever arrived since.
    assert "uuid:p-004" in second and "uuid:ex-1" in second and "uuid:p-005" not in second
    assert "uuid:p-new" not in second


def test_bulk_review_applies_to_the_selection_only(app: Flask, world: World) -> None:
    client = client_for(app, "coordinator")
    token = csrf_token(client)
    alpha, bravo, charlie = (world.ids[k] for k in ("alpha", "bravo", "charlie"))
    url = f"/submissions/forms/{world.form_id}/review"
    # One submission outside the coordinator's district: the whole request is refused.
    refused = client.post(
        url,
        data={"csrf_token": token, "state": "approved", "submission": [str(alpha), str(charlie)]},
    )
    assert refused.status_code == 403
    ok = client.post(
        url,
        data={
            "csrf_token": token,
            "state": "approved",
            "comment": "Checked",
            "submission": [str(alpha), str(bravo)],
            "back": f"/submissions/forms/{world.form_id}?review=received",
        },
    )
    assert ok.status_code == 302
    assert ok.location.endswith(f"/submissions/forms/{world.form_id}?review=received")
    with world.db.session() as s:
        states = {sid: s.get(Submission, sid).review_state for sid in (alpha, bravo, charlie)}  # type: ignore[union-attr]
        assert states == {
            alpha: ReviewState.approved,
            bravo: ReviewState.approved,
            charlie: ReviewState.received,
        }
        reviews = s.execute(select(SubmissionReview.submission_id, SubmissionReview.comment))
        assert sorted(tuple(r) for r in reviews) == [(alpha, "Checked"), (bravo, "Checked")]
    for data, words in [
        ({"state": "approved"}, "Select at least one submission"),
        ({"state": "maybe", "submission": str(alpha)}, "Choose a review state"),
        ({"state": "has_issues", "submission": str(alpha)}, "a comment is required"),
        ({"state": "approved", "submission": "1; DROP"}, "not a submission number"),
    ]:
        response = client.post(url, data={"csrf_token": token, **data})
        assert response.status_code == 400, data
        assert words in response.get_data(as_text=True), data


def test_an_offsite_back_link_is_ignored(app: Flask, world: World) -> None:
    client = client_for(app, "admin")
    response = client.post(
        f"/submissions/forms/{world.form_id}/review",
        data={
            "csrf_token": csrf_token(client),
            "state": "approved",
            "submission": str(world.ids["alpha"]),
            "back": "https://elsewhere.example/",
        },
    )
    assert response.location.endswith(f"/submissions/forms/{world.form_id}")


def test_the_enumerator_sees_issues_raised_on_their_own_submissions(
    app: Flask, world: World, db: Session
) -> None:
    coordinator = client_for(app, "coordinator")
    response = coordinator.post(
        f"/submissions/{world.ids['alpha']}/review",
        data={
            "csrf_token": csrf_token(coordinator),
            "state": "has_issues",
            "comment": "Class P2 has no teacher listed",
        },
    )
    assert response.status_code == 302
    page = client_for(app, "enumerator").get("/submissions/issues").get_data(as_text=True)
    assert "Class P2 has no teacher listed" in page
    assert f"/submissions/{world.ids['alpha']}" in page
    assert 'name="viewport"' in page  # laid out for a phone
    other = client_for(app, "other_enum").get("/submissions/issues").get_data(as_text=True)
    assert "Class P2 has no teacher listed" not in other and "Nothing to fix" in other
    # Once approved, it leaves the list.
    coordinator.post(
        f"/submissions/{world.ids['alpha']}/review",
        data={"csrf_token": csrf_token(coordinator), "state": "approved"},
    )
    page = client_for(app, "enumerator").get("/submissions/issues").get_data(as_text=True)
    assert "Class P2 has no teacher listed" not in page


def test_submission_page_shows_answers_in_form_order_repeats_and_the_photo(
    app: Flask, world: World
) -> None:
    client = client_for(app, "coordinator")
    html = client.get(f"/submissions/{world.ids['alpha']}").get_data(as_text=True)
    order = [html.index(h) for h in ("school_name", "loc-gps-Latitude", "loc-services", "photo")]
    assert order == sorted(order)
    assert "Alpha =1+1" in html and "meals library" in html
    photo_url = f"/submissions/{world.ids['alpha']}/attachments/p1.jpg"
    assert f'<img class="photo" src="{photo_url}"' in html
    # Repeats as tables, the nested one saying which class each learner is in.
    assert html.index("Ann") < html.index("Bob") < html.index("Cy")
    assert 'id="repeat-1"' in html and 'id="repeat-2"' in html
    assert 'name="state" value="has_issues"' in html  # the review form
    photo = client.get(photo_url)
    assert photo.status_code == 200 and photo.data == PHOTO
    assert photo.mimetype == "image/jpeg"
    photo.close()
    assert client.get(f"/submissions/{world.ids['alpha']}/attachments/nope.jpg").status_code == 404
    # Enumerators see their own submission, without the review form.
    own = client_for(app, "enumerator").get(f"/submissions/{world.ids['alpha']}")
    assert own.status_code == 200 and 'name="state"' not in own.get_data(as_text=True)


def test_deleting_hides_the_submission_everywhere(app: Flask, world: World) -> None:
    client = client_for(app, "coordinator")
    response = client.post(
        f"/submissions/{world.ids['bravo']}/delete",
        data={"csrf_token": csrf_token(client)},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "uuid:ex-2 deleted" in response.get_data(as_text=True)  # the flash, once
    assert listed(client, f"/submissions/forms/{world.form_id}") == {"uuid:ex-1"}
    assert client.get(f"/submissions/{world.ids['bravo']}").status_code == 404
    with world.db.session() as s:
        assert s.get(Submission, world.ids["bravo"]).deleted_at is not None  # type: ignore[union-attr]
