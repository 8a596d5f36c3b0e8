"""Who is making this request: an app user's key in the URL, HTTP Digest, HTTP Basic, or a web
session.

`authenticate(request)` answers with a User or None; `require_user()` raises a 401 Problem that
the protocol renderers turn into a response carrying both challenges (`challenge_headers`).
Every attempt that tests a password goes through the limit on guessing (server/auth/guessing.py):
while its account or address is in back-off it is refused with a 429 Problem and Retry-After.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar
from urllib.parse import quote

from flask import Flask, Request, current_app
from flask import request as flask_request
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash

from server.app_state import db_session, state
from server.auth import digest
from server.auth.app_user_keys import key_username, request_key
from server.auth.cache import CredentialCache, TtlCache
from server.auth.guessing import guess_limiter
from server.auth.principal import Principal, load_principal
from server.auth.principal import principal_cache as new_principal_cache
from server.domain.guessing import Attempt, limited_message
from server.domain.problems import Problem, unauthorized
from server.models import User
from server.settings import Settings

_CACHE_KEY = "dmip.auth.credential_cache"
_SESSION_LOADER_KEY = "dmip.auth.session_user_loader"
_PRINCIPALS_KEY = "dmip.auth.principal_cache"

SessionUserLoader = Callable[[], User | None]


@dataclass(frozen=True)
class AuthOutcome:
    user: User | None
    # The client's Digest response was right but its nonce had expired.
    stale: bool = False


def set_session_user_loader(app: Flask, loader: SessionUserLoader) -> None:
    """Let a signed-in browser session count as authentication (the web UI registers this)."""
    app.extensions[_SESSION_LOADER_KEY] = loader


def _settings() -> Settings:
    return state().settings


def credential_cache() -> CredentialCache:
    cache = current_app.extensions.get(_CACHE_KEY)
    if cache is None:
        settings = _settings()
        cache = current_app.extensions.setdefault(
            _CACHE_KEY,
            CredentialCache(settings.secret_key.encode(), settings.credential_cache_ttl),
        )
    return cache


def nonce_signer() -> digest.NonceSigner:
    settings = _settings()
    return digest.NonceSigner(settings.secret_key.encode(), settings.digest_nonce_ttl)


def challenge_headers(stale: bool = False) -> list[tuple[str, str]]:
    """Both challenges, Digest first: Collect answers the Digest one, browsers the Basic one."""
    settings = _settings()
    signer = nonce_signer()
    realm = settings.auth_realm
    return [
        (
            "WWW-Authenticate",
            digest.challenge(realm, signer.issue(), signer.opaque(realm), stale=stale),
        ),
        ("WWW-Authenticate", f'Basic realm="{realm}", charset="UTF-8"'),
    ]


def _load_user(username: str) -> User | None:
    # Scopes (with their org units) come in the same query: the receiver checks them on
    # every submission that names a place, and a second round trip costs more than the join.
    return (
        db_session()
        .scalars(select(User).where(User.username == username).options(joinedload(User.scopes)))
        .unique()
        .first()
    )


def _request_targets(request: Request) -> tuple[str, ...]:
    environ = request.environ
    path = quote(
        environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
        safe="/:@!$&'()*+,;=-._~%",
    )
    targets = [path]
    query = environ.get("QUERY_STRING", "")
    if query:
        targets.append(f"{path}?{query}")
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        targets.append(raw)
    return tuple(targets)


class Credentialed(Protocol):
    """A User row or a cached Principal: what checking a password or Digest response reads."""

    @property
    def id(self) -> int: ...

    @property
    def active(self) -> bool: ...

    @property
    def credentials_version(self) -> int: ...

    @property
    def password_hash(self) -> str: ...

    @property
    def digest_ha1(self) -> str: ...


C = TypeVar("C", bound=Credentialed)


def _basic(username: str, password: str, load: Callable[[str], C | None]) -> C | None:
    user = load(username)
    if user is None or not user.active:
        return None
    cache = credential_cache()
    key = cache.key(username, password)
    if cache.is_known_good(key, user.id, user.credentials_version):
        return user
    with cache.verifying(key):
        # A request with the same credentials may have verified them while this one waited.
        if cache.is_known_good(key, user.id, user.credentials_version):
            return user
        if not check_password_hash(user.password_hash, password):
            return None
        cache.remember(key, user.id, user.credentials_version)
    return user


def _digest(
    request: Request, params: dict[str, str | None], load: Callable[[str], C | None]
) -> tuple[C | None, bool]:
    """The user the Digest response proves, and whether a right response had a stale nonce."""
    creds = digest.DigestCredentials.from_params(params)
    if creds is None:
        return None, False
    user = load(creds.username)
    if user is None or not user.active:
        return None, False
    verdict = digest.verify(
        creds,
        ha1=user.digest_ha1,
        method=request.method,
        realm=_settings().auth_realm,
        request_targets=_request_targets(request),
        signer=nonce_signer(),
    )
    if verdict is digest.DigestVerdict.ok:
        return user, False
    return None, verdict is digest.DigestVerdict.stale


def _verify(request: Request, load: Callable[[str], C | None]) -> tuple[C | None, bool]:
    """Basic or Digest credentials of `request` checked against `load`'s user; (user, stale)."""
    auth = request.authorization
    if auth is None:
        return None, False
    if auth.type == "basic":
        if auth.username is None or auth.password is None:
            return None, False
        return _basic(auth.username, auth.password, load), False
    if auth.type == "digest":
        return _digest(request, dict(auth.parameters), load)
    return None, False


def _claimed(request: Request) -> tuple[str, str] | None:
    """The username and way in of an attempt that tests a password, or None when the request
    tests none (no credentials, an incomplete header, a Digest nonce that is not ours: its
    response is never compared), so Collect's first, bare request is challenged, not counted."""
    auth = request.authorization
    if auth is None:
        return None
    if auth.type == "basic":
        if auth.username is None or auth.password is None:
            return None
        return auth.username, "basic"
    if auth.type == "digest":
        creds = digest.DigestCredentials.from_params(dict(auth.parameters))
        if creds is None or nonce_signer().check(creds.nonce) is digest.NonceState.invalid:
            return None
        return creds.username, "digest"
    return None


def too_many_failures(wait: int) -> Problem:
    return Problem(
        429,
        "auth.too_many_failures",
        limited_message(wait),
        {"retry_after": wait},
        {"Retry-After": str(wait)},
    )


def _limited(
    request: Request, verify: Callable[[], tuple[C | None, bool]]
) -> tuple[C | None, bool]:
    """`verify()`'s (user, stale), within the limit on guessing: refused with a 429 Problem
    while the attempt's account or address must wait, counted when it fails."""
    claimed = _claimed(request)
    if claimed is None:
        return verify()
    limiter = guess_limiter()
    attempt = Attempt.of(claimed[0], request.remote_addr, claimed[1])
    check = limiter.check(attempt)
    if check.wait:
        raise too_many_failures(check.wait)
    user, stale = verify()
    if user is not None:
        limiter.succeeded(attempt, check)
    elif not stale:  # a right response with an old nonce is no failure
        wait = limiter.failed(attempt)
        if wait:
            raise too_many_failures(wait)
    return user, stale


def _key_user(token: str) -> User | None:
    username = key_username(db_session(), token)
    return _load_user(username) if username is not None else None


def authenticate_outcome(request: Request) -> AuthOutcome:
    token = request_key(request)
    if token is not None:
        # A key route: its URL's token is the only credential that counts.
        return AuthOutcome(_key_user(token))
    if request.authorization is None:
        loader: SessionUserLoader | None = current_app.extensions.get(_SESSION_LOADER_KEY)
        user = loader() if loader is not None else None
        return AuthOutcome(user if user is not None and user.active else None)
    found, stale = _limited(request, lambda: _verify(request, _load_user))
    return AuthOutcome(found, stale=stale)


def authenticate(request: Request) -> User | None:
    """The active user this request proves to be, or None."""
    return authenticate_outcome(request).user


def require_user() -> User:
    """The authenticated user of the current request, or raise a 401 Problem.

    The Problem carries the Digest challenge in `headers` (so any renderer sends a usable
    challenge) and `details["stale"]`; renderers that can send repeated headers should replace
    WWW-Authenticate with `challenge_headers(stale)`, which also offers Basic.
    """
    outcome = authenticate_outcome(flask_request)
    if outcome.user is not None:
        return outcome.user
    raise _unauthorized(outcome.stale)


def principal_cache() -> TtlCache[str, Principal]:
    cache = current_app.extensions.get(_PRINCIPALS_KEY)
    if cache is None:
        cache = current_app.extensions.setdefault(_PRINCIPALS_KEY, new_principal_cache())
    return cache


def require_principal(fresh: bool = False) -> Principal:
    """Like `require_user`, from a snapshot of the user cached for a few seconds.

    For the submission receiver, whose write re-checks the snapshot's credentials version
    (server/auth/principal.py). A cached snapshot that fails to verify is reloaded once, so a
    password changed a moment ago works at once; `fresh` skips the cache altogether.
    """

    cache = principal_cache()
    token = request_key(flask_request)
    if token is not None:
        return _key_principal(cache, token, fresh)

    def load(username: str, use_cache: bool) -> Principal | None:
        cached = cache.get(username) if use_cache else None
        if cached is not None:
            return cached
        principal = load_principal(db_session(), username)
        if principal is not None:
            cache.put(username, principal)
        else:
            cache.forget(username)
        return principal

    def verify() -> tuple[Principal | None, bool]:
        principal, stale = _verify(flask_request, lambda name: load(name, not fresh))
        if principal is None and not fresh and flask_request.authorization is not None:
            principal, stale = _verify(flask_request, lambda name: load(name, False))
        return principal, stale

    # The cached try and the fresh one are one attempt: counted once.
    principal, stale = _limited(flask_request, verify)
    if principal is not None:
        return principal
    raise _unauthorized(stale)


def _key_principal(cache: TtlCache[str, Principal], token: str, fresh: bool) -> Principal:
    """The principal of an app user's key. A revoked key refuses the next submission at once:
    revoking bumps the user's credentials version, which the receiver's write checks."""
    cache_key = "key:" + token
    principal = None if fresh else cache.get(cache_key)
    if principal is None:
        session = db_session()
        username = key_username(session, token)
        principal = load_principal(session, username) if username is not None else None
        if principal is None or not principal.active:
            cache.forget(cache_key)
            raise key_refused()
        cache.put(cache_key, principal)
    return principal


def key_refused() -> Problem:
    return unauthorized(
        "This app user's key is not valid: it was revoked, or the QR code is wrong. Ask your "
        "coordinator for a new QR code."
    )


def _unauthorized(stale: bool) -> Problem:
    if request_key(flask_request) is not None:
        return key_refused()
    if flask_request.authorization is None:
        message = "Please sign in with your username and password."
    elif stale:
        message = "Your sign-in has expired; please try again."
    else:
        message = "The username or password is not correct, or the account is not active."
    digest_challenge = challenge_headers(stale=stale)[0][1]
    problem: Problem = unauthorized(message, headers={"WWW-Authenticate": digest_challenge})
    problem.details["stale"] = stale
    return problem
