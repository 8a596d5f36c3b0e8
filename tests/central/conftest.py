"""Fixtures for the Central API: the real app on a free port, and pyodk clients signed in to it.

- `central` (per test): the app served by werkzeug in a thread against this test session's
  PostgreSQL database, with the org units of `seed_org` (UG > UG-C > D1 > S1, D2 > S2) and
  empty caches, every table emptied after the test; `central.db()` arranges data.
- `make_person(username, role, scopes=())` creates a user with password `PASSWORD`.
- `pyodk_client(username)` is a real pyodk `Client` for that user, signed in through
  POST /v1/sessions as pyodk does, with its config and token cache in the test's directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from flask import Flask

from server.domain.roles import Role
from server.models import User
from server.services.users import create_user
from tests.conftest import _truncate_all
from tests.fixtures.live import LiveServer, live_server_on
from tests.fixtures.openrosa import seed_org

PASSWORD = "central-pass-123"


# The Central tests' name for the live server.
CentralServer = LiveServer


@pytest.fixture(scope="session")
def central_server(
    pg_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CentralServer]:
    data_dir = tmp_path_factory.mktemp("central") / "data"
    with live_server_on(pg_url, data_dir, "central-test-secret-0123456789") as served:
        yield served


def _forget_caches(app: Flask) -> None:
    """The server's per-process caches (users, forms, places) start empty: each test makes its
    forms, org units and users anew, with new ids, under the same names."""
    principals = app.extensions.get("dmip.auth.principal_cache")
    if principals is not None:
        principals.clear()
    receiver = app.extensions.get("dmip.openrosa.receiver")
    if receiver is not None:
        receiver.forms.clear()
        receiver.places.clear()


@pytest.fixture
def central(central_server: CentralServer, pg_url: str) -> Iterator[CentralServer]:
    _forget_caches(central_server.app)
    with central_server.db() as session:
        seed_org(session)
    yield central_server
    _truncate_all(pg_url)


@pytest.fixture
def make_person(central: CentralServer) -> Callable[..., User]:
    def make(username: str, role: Role | str, scopes: Sequence[str] = ()) -> User:
        with central.db() as session:
            user = create_user(
                session, username, PASSWORD, role, central.settings.auth_realm, list(scopes)
            )
            session.flush()
            session.expunge(user)
            return user

    return make


@pytest.fixture
def pyodk_client(central: CentralServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    from pyodk.client import Client

    clients = []

    def make(username: str, password: str = PASSWORD, project_id: int = 1):  # type: ignore[no-untyped-def]
        config = tmp_path / f"pyodk-{username}.toml"
        config.write_text(
            "[central]\n"
            f'base_url = "{central.url}"\n'
            f'username = "{username}"\n'
            f'password = "{password}"\n'
            f"default_project_id = {project_id}\n"
        )
        client = Client(config_path=config, cache_path=tmp_path / f"pyodk-{username}-cache.toml")
        client.open()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
