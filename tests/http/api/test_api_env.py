"""The environment the API tests share (no tests here): the quality test environment served by
an app whose forms directory holds the test catalog and expectations, and one user per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from server.app import create_app
from server.settings import Settings
from tests.fixtures.openrosa import add_user, basic
from tests.quality.test_quality_env import Env, make_env

# username -> (role, scope codes)
USERS = {
    "ada": ("admin", ()),
    "cora": ("coordinator", ("D1",)),
    "sam": ("subcounty_staff", ("S1",)),
    "eve": ("enumerator", ("S1",)),
}


@dataclass
class Api:
    env: Env
    client: FlaskClient

    def get(self, url: str, user: str | None = "ada", **params: Any) -> Any:
        headers = basic(user) if user else {}
        return self.client.get(url, query_string=params or None, headers=headers)

    def ok(self, url: str, user: str = "ada", **params: Any) -> Any:
        response = self.get(url, user, **params)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def problem(self, url: str, status: int, code: str, user: str = "ada", **params: Any) -> Any:
        response = self.get(url, user, **params)
        body = response.get_json()
        assert (response.status_code, body["status"], body["code"]) == (status, status, code), body
        assert response.content_type == "application/problem+json"
        assert body["message"].endswith(".")
        return body


def make_api(settings: Settings, tmp_path: Path) -> Iterator[Api]:
    for env in make_env(settings, tmp_path):
        with env.db.session() as s:
            for name, (role, scopes) in USERS.items():
                add_user(s, name, role, scopes)
        app = create_app(settings, forms_dir=env.forms_dir)
        app.config["TESTING"] = True
        yield Api(env, app.test_client())
        app.extensions["dmip"].db.dispose()


@pytest.fixture
def api(settings: Settings, tmp_path: Path) -> Iterator[Api]:
    yield from make_api(settings, tmp_path)


@pytest.fixture
def sqlite_api(sqlite_settings: Settings, tmp_path: Path) -> Iterator[Api]:
    yield from make_api(sqlite_settings, tmp_path)
