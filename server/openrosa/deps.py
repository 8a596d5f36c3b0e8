"""Per-app objects the OpenRosa handlers share: the blob store and the caches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from server.auth.cache import TtlCache
from server.group_commit import GroupCommit
from server.openrosa.form_cache import FormCache
from server.openrosa.wakeups import WakeUps
from server.services.blobs import BlobStore

_BLOBS = "dmip.openrosa.blobs"
_FORMS = "dmip.openrosa.form_cache"
_PLACES = "dmip.openrosa.place_cache"
_WAKEUPS = "dmip.openrosa.wakeups"
_INSERTS = "dmip.openrosa.inserts"
# Org units change a few times a year (a new sub-county); a unit re-parented is seen by every
# web process within this many seconds.
PLACE_TTL = 30.0


@dataclass(frozen=True)
class Place:
    """An org unit as the receiver needs it: its id, its name for messages, its path for
    scope checks."""

    id: int
    name: str
    path: str


def blob_store() -> BlobStore:
    store = current_app.extensions.get(_BLOBS)
    if store is None:
        from server.app import state

        store = current_app.extensions.setdefault(
            _BLOBS, BlobStore(state().settings.attachments_dir)
        )
    return store


def form_cache() -> FormCache:
    cache = current_app.extensions.get(_FORMS)
    if cache is None:
        cache = current_app.extensions.setdefault(_FORMS, FormCache())
    return cache


def place_cache() -> TtlCache[str, Place]:
    """Org units by code; only units that exist are remembered, so a new one is seen at once."""
    cache = current_app.extensions.get(_PLACES)
    if cache is None:
        cache = current_app.extensions.setdefault(_PLACES, TtlCache(PLACE_TTL))
    return cache


def wakeups() -> WakeUps:
    """The queue of PROCESS_SUBMISSION tasks to publish, sent by the app's task sender."""
    found = current_app.extensions.get(_WAKEUPS)
    if found is None:
        from server.app import state
        from server.task_queue import PROCESS_SUBMISSION

        app_state = state()
        found = current_app.extensions.setdefault(
            _WAKEUPS,
            WakeUps(
                lambda ids: app_state.tasks.send(PROCESS_SUBMISSION, ids),
                app_state.settings.worker_batch,
            ),
        )
    return found


def new_row_inserts() -> GroupCommit[dict[str, Any], int | None] | None:
    """New submission rows of this process's concurrent requests, one INSERT per group
    (PostgreSQL; None on SQLite, where every writer waits for the one lock anyway)."""
    found = current_app.extensions.get(_INSERTS, False)
    if found is False:
        from server.app import state
        from server.services.ingest_insert import insert_new_rows_held

        app_state = state()
        found = None
        if not app_state.settings.is_sqlite:
            # The database is looked up at each write: tests swap the app's database.
            found = GroupCommit(
                lambda rows: insert_new_rows_held(app_state.db.held_connection, rows)
            )
        found = current_app.extensions.setdefault(_INSERTS, found)
    return found
