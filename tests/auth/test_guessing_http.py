"""The limit on password guessing over HTTP Digest and Basic (OpenRosa routes and /api/),
through the app on a real PostgreSQL, with a clock the tests move instead of sleeping."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from server.app import create_app
from server.auth.guessing import AUDIT_BACKOFF, AUDIT_REFUSED
from server.models import AuditEvent, GuessCount
from server.settings import Settings
from tests.auth.guessing_helpers import SMALL_LIMITS, Clock, limit_with_clock
from tests.fixtures.openrosa import (
    PASSWORD,
    add_user,
    basic,
    digest_authorization,
    parse_challenge,
    seed_org,
)

OPENROSA = "{http://openrosa.org/http/response}"


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    application = create_app(settings.with_overrides(**SMALL_LIMITS))
    application.config["TESTING"] = True
    yield application
    application.extensions["dmip"].db.dispose()


@pytest.fixture
def clock(app: Flask) -> Clock:
    clock = Clock()
    limit_with_clock(app, clock)
    return clock


@pytest.fixture
def people(db: Session) -> None:
    seed_org(db)
    add_user(db, "admin", "admin")
    add_user(db, "ann", "enumerator", ("D1",))


def at(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def head_basic(client: FlaskClient, username: str, password: str = PASSWORD) -> int:
    return client.head("/submission", headers=basic(username, password)).status_code


def head_digest(client: FlaskClient, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    first = client.head("/submission")
    assert first.status_code == 401  # the bare request is challenged, never limited
    challenge = parse_challenge(first.headers.getlist("WWW-Authenticate")[0])
    header = digest_authorization(challenge, "HEAD", "/submission", username, password)
    return client.head("/submission", headers={"Authorization": header})


def message(response) -> str:  # type: ignore[no-untyped-def]
    root = etree.fromstring(response.data)
    assert root.tag == f"{OPENROSA}OpenRosaResponse"
    return str(root.find(f"{OPENROSA}message").text)


def counts(db: Session) -> dict[str, int]:
    db.expire_all()
    return {row.kind + ":" + row.key: row.failures for row in db.scalars(select(GuessCount))}


def test_basic_guessing_backs_off_doubling_to_the_cap(app, clock, people, db) -> None:  # type: ignore[no-untyped-def]
    phone = at(app, "10.1.1.1")
    for _ in range(3):
        assert head_basic(phone, "ann", "guess") == 401
    # The fourth failure starts the back-off and says so.
    fourth = phone.head("/submission", headers=basic("ann", "guess"))
    assert fourth.status_code == 429 and fourth.headers["Retry-After"] == "60"
    # During the wait even the right password is refused, in Collect's XML.
    refused = phone.get("/formList", headers=basic("ann"))
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert message(refused) == "Too many failed sign-ins; try again in 1 minute."
    clock.advance(30)
    assert phone.head("/submission", headers=basic("ann")).headers["Retry-After"] == "30"
    # Each further failure doubles the wait, up to the cap.
    waits = []
    for _ in range(6):
        clock.advance(int(phone.head("/submission", headers=basic("ann")).headers["Retry-After"]))
        waits.append(
            int(phone.head("/submission", headers=basic("ann", "guess")).headers["Retry-After"])
        )
    assert waits == [120, 240, 480, 900, 900, 900]
    clock.advance(900)
    assert head_basic(phone, "ann") == 204
    # The right password forgets this phone's failures (not the account's).
    assert "pair:ann\n10.1.1.1" not in counts(db)
    assert counts(db)["account:ann"] == 10


def test_digest_guessing_is_limited_and_the_bare_challenge_is_not_counted(
    app, clock, people, db
) -> None:  # type: ignore[no-untyped-def]
    phone = at(app, "10.1.1.2")
    for _ in range(5):
        assert phone.head("/submission").status_code == 401
    assert counts(db) == {}
    for _ in range(3):
        assert head_digest(phone, "ann", "guess").status_code == 401
    assert head_digest(phone, "ann", "guess").status_code == 429
    right = head_digest(phone, "ann")
    assert right.status_code == 429 and right.headers["Retry-After"] == "60"
    # A response to a nonce that is not ours tests no password: challenged, not counted.
    forged = {"realm": "DMIP", "nonce": "not-ours", "opaque": "x", "qop": "auth"}
    header = digest_authorization(forged, "HEAD", "/submission", "ann", "guess")
    assert phone.head("/submission", headers={"Authorization": header}).status_code == 401
    assert counts(db)["pair:ann\n10.1.1.2"] == 4
    # The same account from another address signs in at once.
    assert head_digest(at(app, "10.2.2.2"), "ann").status_code == 204


def test_api_answers_429_in_json(app, clock, people) -> None:  # type: ignore[no-untyped-def]
    script = at(app, "10.1.1.3")
    for _ in range(3):
        assert script.get("/api/v1/indicators", headers=basic("admin", "guess")).status_code == 401
    response = script.get("/api/v1/indicators", headers=basic("admin"))
    assert response.status_code == 200
    for _ in range(4):
        script.get("/api/v1/indicators", headers=basic("admin", "guess"))
    limited = script.get("/api/v1/indicators", headers=basic("admin"))
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    body = limited.get_json()
    assert body["code"] == "auth.too_many_failures" and body["details"] == {"retry_after": 60}


def test_guessing_from_one_address_never_keeps_the_owner_out_for_long(app, clock, people) -> None:  # type: ignore[no-untyped-def]
    # Attackers at many addresses, each within its pair's free failures, push the account
    # into its own back-off; its cap (a minute) is all the owner elsewhere ever waits.
    for n in range(12):
        attacker = at(app, f"192.0.2.{n}")
        for _ in range(3):
            head_basic(attacker, "admin", "guess")
    owner = at(app, "10.9.9.9")
    response = owner.head("/submission", headers=basic("admin"))
    assert response.status_code == 429 and int(response.headers["Retry-After"]) <= 60
    clock.advance(60)
    assert head_basic(owner, "admin") == 204
    # An attacker's next failure costs its pair a wait, which the owner does not share.
    attacker = at(app, "192.0.2.0")
    assert head_basic(attacker, "admin", "guess") == 429
    clock.advance(60)
    assert head_basic(attacker, "admin", "guess") == 429
    assert head_basic(attacker, "admin") == 429
    assert head_basic(owner, "admin") == 429  # the account's mild wait, a minute at most
    clock.advance(60)
    assert head_basic(owner, "admin") == 204


def test_a_shared_office_address_backs_off_only_to_its_cap(app, clock, people, db) -> None:  # type: ignore[no-untyped-def]
    office = at(app, "41.210.1.1")
    # Many people in the office mistype (or one guesses many names): six free for the address.
    for n in range(6):
        assert head_basic(office, f"user{n}", "typo") == 401
    seventh = office.head("/submission", headers=basic("user6", "typo"))
    assert seventh.status_code == 429 and seventh.headers["Retry-After"] == "60"
    for n in range(5):
        clock.advance(int(seventh.headers["Retry-After"]))
        seventh = office.head("/submission", headers=basic(f"someone{n}", "typo"))
    # The address's wait stops at its cap, and then the admin in the office signs in.
    assert seventh.headers["Retry-After"] == "300"
    assert head_basic(office, "admin") == 429
    clock.advance(300)
    assert head_basic(office, "admin") == 204
    # A phone resending a stale password is slowed by its own pair and no longer feeds the
    # address's count once its free failures are spent.
    before = counts(db)["address:41.210.1.1"]
    phone = at(app, "41.210.1.1")
    clock.advance(3600)
    for _ in range(6):
        head_basic(phone, "ann", "old password")
        clock.advance(900)
    assert counts(db)["address:41.210.1.1"] - before <= 3


def test_backoff_and_refusals_are_audited_once_per_wait(app, clock, people, db) -> None:  # type: ignore[no-untyped-def]
    phone = at(app, "10.1.1.4")
    for _ in range(4):
        head_basic(phone, "ann", "guess")
    for _ in range(20):  # a flood of refused attempts makes one row
        assert head_basic(phone, "ann", "guess") == 429
    rows = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(r.action, r.target_id, r.details.get("kind")) for r in rows] == [
        (AUDIT_BACKOFF, "ann", "pair"),
        (AUDIT_REFUSED, "ann", "pair"),
    ]
    assert rows[0].details["address"] == "10.1.1.4" and rows[0].details["way"] == "basic"
    assert rows[1].details["retry_after"] == 60
    # The next wait (after one more failure) gets its own refusal row, no new back-off row.
    clock.advance(60)
    head_basic(phone, "ann", "guess")
    head_basic(phone, "ann", "guess")
    actions = db.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == [AUDIT_BACKOFF, AUDIT_REFUSED, AUDIT_REFUSED]


def _statements(app: Flask) -> list[str]:
    seen: list[str] = []
    event.listen(
        app.extensions["dmip"].db.engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: seen.append(statement),
    )
    return seen


def test_a_successful_sign_in_writes_nothing(app, clock, people, db) -> None:  # type: ignore[no-untyped-def]
    phone = at(app, "10.1.1.5")
    assert head_basic(phone, "ann") == 204  # reads the set of counted keys once
    seen = _statements(app)
    for _ in range(20):
        assert head_basic(phone, "ann") == 204
        assert head_digest(phone, "ann").status_code == 204
    assert not [s for s in seen if "guess_counts" in s]
    # With failures counted for the account elsewhere, a success reads its rows, and writes
    # only when it has a pair count of its own to forget.
    head_basic(at(app, "10.7.7.7"), "ann", "typo")
    seen.clear()
    for _ in range(10):
        assert head_basic(phone, "ann") == 204
    guesses = [s for s in seen if "guess_counts" in s]
    assert len(guesses) == 10 and all(s.lstrip().upper().startswith("SELECT") for s in guesses)
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == 0
