"""HTTP Digest authentication (RFC 7616, MD5, qop=auth), the scheme ODK Collect prefers.

Nonces are stateless: a timestamp and random bytes signed with an HMAC of the app's secret key,
so every web process of a deployment accepts every other's nonces without shared storage. The
price is that nonce counts are not tracked, so a captured response can be replayed against the
same URI until its nonce expires (`digest_nonce_ttl`); TLS is what protects against capture.

The server stores HA1 = md5(username:realm:password) per user (User.digest_ha1). HA1 is
password-equivalent for this realm: anyone who reads it can sign in, so it is as secret as a
password, but it reveals nothing usable for other sites (the realm is part of it).

Everything here is pure: no Flask, no database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

_NONCE_RANDOM_BYTES = 12
_NONCE_MAC_BYTES = 16


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class NonceState(Enum):
    fresh = "fresh"
    stale = "stale"  # ours, but too old: the client should retry with a new nonce
    invalid = "invalid"  # not ours, tampered with, or from the future


@dataclass(frozen=True)
class NonceSigner:
    """Issues and checks nonces; `clock` is injectable so expiry can be tested without sleeping."""

    secret: bytes
    ttl: int
    clock: Callable[[], float] = time.time

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self.secret, b"nonce:" + payload, hashlib.sha256).digest()[
            :_NONCE_MAC_BYTES
        ]

    def issue(self) -> str:
        payload = struct.pack(">Q", int(self.clock())) + os.urandom(_NONCE_RANDOM_BYTES)
        return _b64(payload + self._mac(payload))

    def check(self, nonce: str) -> NonceState:
        try:
            raw = _unb64(nonce)
        except (ValueError, TypeError):
            return NonceState.invalid
        if len(raw) != 8 + _NONCE_RANDOM_BYTES + _NONCE_MAC_BYTES:
            return NonceState.invalid
        payload, mac = raw[:-_NONCE_MAC_BYTES], raw[-_NONCE_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(payload)):
            return NonceState.invalid
        (issued,) = struct.unpack(">Q", payload[:8])
        age = self.clock() - issued
        if age < -5:  # a little clock skew between processes is fine, more is forgery or a bug
            return NonceState.invalid
        return NonceState.stale if age > self.ttl else NonceState.fresh

    def opaque(self, realm: str) -> str:
        """A constant per (secret, realm) that clients echo back unchanged."""
        return _b64(hmac.new(self.secret, b"opaque:" + realm.encode(), hashlib.sha256).digest())[
            :22
        ]


def challenge(realm: str, nonce: str, opaque: str, stale: bool = False) -> str:
    value = f'Digest realm="{realm}", qop="auth", nonce="{nonce}", opaque="{opaque}", algorithm=MD5'
    return value + ", stale=true" if stale else value


def expected_response(
    ha1: str, method: str, uri: str, nonce: str, nc: str, cnonce: str, qop: str
) -> str:
    ha2 = _md5(f"{method}:{uri}")
    return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


class DigestVerdict(Enum):
    ok = "ok"
    stale = "stale"
    refused = "refused"


@dataclass(frozen=True)
class DigestCredentials:
    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    qop: str
    nc: str
    cnonce: str
    opaque: str | None
    algorithm: str | None

    @classmethod
    def from_params(cls, params: Mapping[str, str | None]) -> DigestCredentials | None:
        """The parameters of an `Authorization: Digest ...` header, or None if any is missing."""
        required = ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")
        values = {key: params.get(key) for key in required}
        if any(not v for v in values.values()):
            return None
        return cls(
            **{k: str(v) for k, v in values.items()},
            opaque=params.get("opaque"),
            algorithm=params.get("algorithm"),
        )


def uri_matches(claimed: str, request_targets: tuple[str, ...]) -> bool:
    """Whether the `uri` the client signed names the resource this request is for.

    Clients sign the request-target they sent (origin form, "/path?query"); some send the
    absolute form. Binding the response to the URI stops a response captured for one resource
    from being replayed against another.
    """
    if claimed.startswith(("http://", "https://")):
        parts = urlsplit(claimed)
        claimed = parts.path + (f"?{parts.query}" if parts.query else "")
    return claimed in request_targets


def verify(
    creds: DigestCredentials,
    *,
    ha1: str,
    method: str,
    realm: str,
    request_targets: tuple[str, ...],
    signer: NonceSigner,
) -> DigestVerdict:
    if creds.realm != realm or creds.qop != "auth":
        return DigestVerdict.refused
    if creds.algorithm is not None and creds.algorithm.upper() != "MD5":
        return DigestVerdict.refused
    if creds.opaque is not None and not hmac.compare_digest(creds.opaque, signer.opaque(realm)):
        return DigestVerdict.refused
    if not uri_matches(creds.uri, request_targets):
        return DigestVerdict.refused
    nonce_state = signer.check(creds.nonce)
    if nonce_state is NonceState.invalid:
        return DigestVerdict.refused
    want = expected_response(ha1, method, creds.uri, creds.nonce, creds.nc, creds.cnonce, creds.qop)
    if not hmac.compare_digest(want, creds.response.lower()):
        return DigestVerdict.refused
    # Only a response that was right apart from the nonce's age earns stale=true: the client
    # then retries with a new nonce without asking the person for the password again.
    return DigestVerdict.stale if nonce_state is NonceState.stale else DigestVerdict.ok
