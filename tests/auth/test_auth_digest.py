"""Pure Digest and credential-cache rules, with injected clocks instead of sleeping."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

from hypothesis import given
from hypothesis import strategies as st

from server.auth import digest
from server.auth.cache import CredentialCache

SECRET = b"test-secret-key-0123456789"


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _creds(signer: digest.NonceSigner, uri: str = "/submission", **overrides: str):
    nonce = overrides.pop("nonce", None) or signer.issue()
    ha1 = _md5("ann:DMIP:secret-password")
    params = {
        "username": "ann",
        "realm": "DMIP",
        "nonce": nonce,
        "uri": uri,
        "qop": "auth",
        "nc": "00000001",
        "cnonce": "abcdef",
        "opaque": signer.opaque("DMIP"),
        "algorithm": "MD5",
    }
    method = overrides.pop("method", "POST")
    params.update(overrides)
    ha2 = _md5(f"{method}:{params['uri']}")
    params["response"] = _md5(f"{ha1}:{nonce}:00000001:abcdef:auth:{ha2}")
    return digest.DigestCredentials.from_params(params), ha1


def _verify(signer, creds, ha1, method="POST", targets=("/submission",)):
    return digest.verify(
        creds, ha1=ha1, method=method, realm="DMIP", request_targets=targets, signer=signer
    )


def test_a_fresh_nonce_verifies_and_an_old_one_is_stale_not_refused() -> None:
    clock = Clock()
    signer = digest.NonceSigner(SECRET, ttl=300, clock=clock)
    creds, ha1 = _creds(signer)
    assert _verify(signer, creds, ha1) is digest.DigestVerdict.ok
    clock.now += 301
    assert _verify(signer, creds, ha1) is digest.DigestVerdict.stale


def test_another_process_with_the_same_secret_accepts_the_nonce() -> None:
    ours = digest.NonceSigner(SECRET, ttl=300)
    theirs = digest.NonceSigner(SECRET, ttl=300)
    creds, ha1 = _creds(ours)
    assert _verify(theirs, creds, ha1) is digest.DigestVerdict.ok
    stranger = digest.NonceSigner(b"another-deployment-secret", ttl=300)
    assert _verify(stranger, creds, ha1) is digest.DigestVerdict.refused


@given(st.integers(min_value=0, max_value=47), st.integers(min_value=0, max_value=255))
def test_any_tampered_nonce_is_refused(position: int, flip: int) -> None:
    signer = digest.NonceSigner(SECRET, ttl=300)
    nonce = signer.issue()
    position %= len(nonce)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    replacement = alphabet[flip % len(alphabet)]
    tampered = nonce[:position] + replacement + nonce[position + 1 :]
    # 36 bytes are exactly 48 base64 characters, so every character changes the bytes.
    expected = digest.NonceState.fresh if tampered == nonce else digest.NonceState.invalid
    assert signer.check(tampered) is expected


def test_a_wrong_uri_method_password_or_realm_is_refused() -> None:
    signer = digest.NonceSigner(SECRET, ttl=300)
    creds, ha1 = _creds(signer, uri="/formList")
    assert _verify(signer, creds, ha1) is digest.DigestVerdict.refused  # signed for /formList
    creds, ha1 = _creds(signer)
    assert _verify(signer, creds, ha1, method="GET") is digest.DigestVerdict.refused
    assert _verify(signer, creds, _md5("ann:DMIP:other")) is digest.DigestVerdict.refused
    creds, ha1 = _creds(signer, realm="Elsewhere")
    assert _verify(signer, creds, ha1) is digest.DigestVerdict.refused
    creds, ha1 = _creds(signer, opaque="forged")
    assert _verify(signer, creds, ha1) is digest.DigestVerdict.refused


def test_absolute_uri_matches_its_path_and_query() -> None:
    assert digest.uri_matches("http://h:5000/formList?formID=a", ("/formList?formID=a",))
    assert not digest.uri_matches("http://h:5000/formList?formID=b", ("/formList?formID=a",))


def test_missing_qop_or_cnonce_is_not_credentials() -> None:
    assert digest.DigestCredentials.from_params({"username": "a", "nonce": "n"}) is None


def test_nonce_from_the_future_is_refused() -> None:
    clock = Clock()
    signer = digest.NonceSigner(SECRET, ttl=300, clock=clock)
    nonce = signer.issue()
    clock.now -= 60
    assert signer.check(nonce) is digest.NonceState.invalid


def test_cached_verdict_dies_with_version_change_expiry_or_another_user() -> None:
    clock = Clock(100.0)
    cache = CredentialCache(SECRET, ttl=60, clock=clock)
    key = cache.key("ann", "pw-1")
    assert cache.key("ann", "pw-2") != key
    assert "pw-1" not in key
    cache.remember(key, user_id=7, credentials_version=3)
    assert cache.is_known_good(key, 7, 3)
    assert not cache.is_known_good(key, 8, 3)  # a recreated user with the same name
    cache.remember(key, 7, 3)
    assert not cache.is_known_good(key, 7, 4)  # password changed or user deactivated
    assert not cache.is_known_good(key, 7, 3)  # and the stale entry is gone
    cache.remember(key, 7, 3)
    clock.now += 61
    assert not cache.is_known_good(key, 7, 3)


def test_cache_is_bounded_and_ttl_zero_disables_it() -> None:
    cache = CredentialCache(SECRET, ttl=60, max_entries=3)
    keys = [cache.key(f"u{i}", "pw") for i in range(5)]
    for i, key in enumerate(keys):
        cache.remember(key, i, 1)
    assert len(cache) == 3
    assert not cache.is_known_good(keys[0], 0, 1)
    assert cache.is_known_good(keys[4], 4, 1)
    off = CredentialCache(SECRET, ttl=0)
    off.remember(keys[0], 0, 1)
    assert not off.is_known_good(keys[0], 0, 1)


def test_concurrent_requests_with_new_credentials_verify_them_once(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A burst of requests with credentials not yet verified runs scrypt once, not per request;
    a wrong password is still checked by each request that sends it."""
    from werkzeug.security import generate_password_hash

    from server.auth import http as auth_http

    class Row:
        id, active, credentials_version = 7, True, 1
        password_hash = generate_password_hash("pw-1")

    cache = CredentialCache(SECRET, ttl=60)
    monkeypatch.setattr(auth_http, "credential_cache", lambda: cache)
    hashed: list[str] = []
    real_check = auth_http.check_password_hash

    def counting_check(stored: str, password: str) -> bool:
        hashed.append(password)
        return real_check(stored, password)

    monkeypatch.setattr(auth_http, "check_password_hash", counting_check)

    def burst(password: str) -> list[object]:
        start = threading.Barrier(4)

        def one() -> object:
            start.wait()
            return auth_http._basic("ann", password, lambda _name: Row())

        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(lambda _: one(), range(4)))

    assert [type(found) for found in burst("pw-1")] == [Row] * 4
    assert hashed == ["pw-1"]
    assert burst("wrong") == [None] * 4
    assert hashed.count("wrong") == 4  # a refusal is never remembered
    assert not cache._verifying  # nothing left behind once the requests are done
