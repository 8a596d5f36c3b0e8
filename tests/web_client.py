"""Helpers for tests that drive the web app through Flask's test client.

from tests.web_client import csrf_token, sign_in

sign_in(client, "coordinator", "password")
client.post("/some/action", data={"csrf_token": csrf_token(client), ...})
"""

from __future__ import annotations

import re
from typing import Any

TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client: Any, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page's meta tag."""
    response = client.get(path, follow_redirects=True)
    match = TOKEN.search(response.get_data(as_text=True))
    if match is None:
        raise AssertionError(f"no CSRF token on {path} ({response.status_code})")
    return match.group(1)


def sign_in(client: Any, username: str, password: str) -> Any:
    """Sign in through the login form; returns the response (a redirect on success)."""
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(client)},
    )
