"""Digest and Basic authentication end to end through the app, and the access rules."""

from __future__ import annotations

import pytest
from lxml import etree

from server.auth.digest import NonceSigner
from server.auth.form_access import can_fill
from server.auth.http import credential_cache
from server.models import FormAssignment, OrgUnit, User
from server.services.users import set_password
from tests.fixtures.openrosa import (
    PASSWORD,
    REALM,
    add_user,
    basic,
    digest_authorization,
    parse_challenge,
    publish,
    seed_org,
)


@pytest.fixture
def people(db):  # type: ignore[no-untyped-def]
    seed_org(db)
    return {
        "admin": add_user(db, "admin", "admin"),
        "ann": add_user(db, "ann", "enumerator", ("D1",)),
        "sam": add_user(db, "sam", "subcounty_staff", ("S2",)),
    }


def _challenges(response) -> list[str]:  # type: ignore[no-untyped-def]
    return response.headers.getlist("WWW-Authenticate")


def _digest_head(client, username: str, password: str = PASSWORD, uri: str = "/submission"):  # type: ignore[no-untyped-def]
    first = client.head("/submission")
    challenge = parse_challenge(_challenges(first)[0])
    header = digest_authorization(challenge, "HEAD", uri, username, password)
    return client.head("/submission", headers={"Authorization": header})


def test_unauthenticated_request_gets_both_challenges(client, people) -> None:  # type: ignore[no-untyped-def]
    response = client.head("/submission")
    assert response.status_code == 401
    digest, basic_challenge = _challenges(response)
    params = parse_challenge(digest)
    assert params["realm"] == REALM and params["qop"] == "auth" and params["algorithm"] == "MD5"
    assert params["nonce"] and params["opaque"] and "stale" not in params
    assert basic_challenge.startswith(f'Basic realm="{REALM}"')
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    body = client.get("/formList")
    root = etree.fromstring(body.data)
    assert root.tag == "{http://openrosa.org/http/response}OpenRosaResponse"
    assert "sign in" in root[0].text


def test_digest_sign_in_succeeds(client, people) -> None:  # type: ignore[no-untyped-def]
    response = _digest_head(client, "ann")
    assert response.status_code == 204


def test_digest_with_wrong_password_or_uri_is_refused(client, people) -> None:  # type: ignore[no-untyped-def]
    assert _digest_head(client, "ann", password="not the password").status_code == 401
    # A response computed for another resource must not open this one.
    assert _digest_head(client, "ann", uri="/formList").status_code == 401
    assert _digest_head(client, "nobody").status_code == 401


def test_expired_nonce_gets_stale_true_and_retry_succeeds(client, app, people) -> None:  # type: ignore[no-untyped-def]
    settings = app.extensions["dmip"].settings
    old = NonceSigner(
        settings.secret_key.encode(),
        settings.digest_nonce_ttl,
        clock=lambda: 1_000_000.0,  # long ago
    )
    challenge = {"realm": REALM, "nonce": old.issue(), "opaque": old.opaque(REALM)}
    header = digest_authorization(challenge, "HEAD", "/submission", "ann")
    response = client.head("/submission", headers={"Authorization": header})
    assert response.status_code == 401
    fresh = parse_challenge(_challenges(response)[0])
    assert fresh["stale"] == "true"
    retry = digest_authorization(fresh, "HEAD", "/submission", "ann")
    assert client.head("/submission", headers={"Authorization": retry}).status_code == 204
    # A wrong password with an expired nonce is not "stale": the client must ask the person.
    wrong = digest_authorization(challenge, "HEAD", "/submission", "ann", "bad password")
    refused = client.head("/submission", headers={"Authorization": wrong})
    assert "stale" not in parse_challenge(_challenges(refused)[0])


def test_digest_nonce_for_query_uri(client, people, db) -> None:  # type: ignore[no-untyped-def]
    challenge = parse_challenge(_challenges(client.get("/formList?formID=x"))[0])
    header = digest_authorization(challenge, "GET", "/formList?formID=x", "ann")
    assert client.get("/formList?formID=x", headers={"Authorization": header}).status_code == 200
    header = digest_authorization(challenge, "GET", "/formList?formID=y", "ann")
    assert client.get("/formList?formID=x", headers={"Authorization": header}).status_code == 401


def test_basic_is_verified_once_then_cached_until_credentials_change(
    client, app, db, people
) -> None:  # type: ignore[no-untyped-def]
    assert client.head("/submission", headers=basic("ann")).status_code == 204
    with app.app_context():
        assert len(credential_cache()) == 1
    # Prove the cached verdict is what answers: make the stored hash useless without bumping
    # the credentials version; the known-good password still signs in.
    user = db.get(User, people["ann"])
    user.password_hash = "scrypt:32768:8:1$invalid$00"
    db.commit()
    assert client.head("/submission", headers=basic("ann")).status_code == 204
    assert client.head("/submission", headers=basic("ann", "wrong password")).status_code == 401
    # A real password change bumps the version: the old password dies at once.
    set_password(user, "a brand new password", REALM)
    db.commit()
    assert client.head("/submission", headers=basic("ann")).status_code == 401
    renewed = basic("ann", "a brand new password")
    assert client.head("/submission", headers=renewed).status_code == 204


def test_deactivated_user_is_refused_even_when_cached(client, db, people) -> None:  # type: ignore[no-untyped-def]
    assert client.head("/submission", headers=basic("sam")).status_code == 204
    user = db.get(User, people["sam"])
    user.active = False
    db.commit()
    assert client.head("/submission", headers=basic("sam")).status_code == 401
    assert _digest_head(client, "sam").status_code == 401


def test_can_fill_follows_roles_and_assignments(db, people) -> None:  # type: ignore[no-untyped-def]
    school, _ = publish(db, "school")
    staff_only, _ = publish(db, "hq", roles=["subcounty_staff"])
    admin, ann, sam = (db.get(User, people[k]) for k in ("admin", "ann", "sam"))
    assert can_fill(admin, staff_only, db)
    assert can_fill(ann, school, db) and not can_fill(ann, staff_only, db)
    assert can_fill(sam, staff_only, db)
    other, _ = publish(db, "other")
    db.add(FormAssignment(form_id=other.id, user_id=ann.id))
    db.commit()
    assert can_fill(ann, other, db) and not can_fill(ann, school, db)


def test_in_scope_compares_paths(db, people) -> None:  # type: ignore[no-untyped-def]
    units = {u.code: u for u in db.query(OrgUnit)}
    ann, sam, admin = (db.get(User, people[k]) for k in ("ann", "sam", "admin"))
    assert ann.scope.covers(units["D1"].path) and ann.scope.covers(units["S1"].path)
    assert not ann.scope.covers(units["S2"].path) and not ann.scope.covers(units["UG-C"].path)
    assert sam.scope.covers(units["S2"].path) and not sam.scope.covers(units["D2"].path)
    assert admin.scope.covers(units["UG"].path)


def test_web_session_hook_authenticates_without_headers(app, client, db, people) -> None:  # type: ignore[no-untyped-def]
    from server.auth.http import set_session_user_loader

    assert client.head("/submission").status_code == 401
    set_session_user_loader(app, lambda: db.get(User, people["sam"]))
    assert client.head("/submission").status_code == 204
    user = db.get(User, people["sam"])
    user.active = False
    db.commit()
    assert client.head("/submission").status_code == 401
