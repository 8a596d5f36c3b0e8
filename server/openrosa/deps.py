"""Per-app objects the OpenRosa handlers share: the blob store and the caches.

They live together in one `Receiver`, found once per request rather than once per object:
each look-up through Flask's `current_app` proxy costs a context-variable read and a few
calls, on the receiver's hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from server.app_state import EXTENSION, AppState
from server.auth.cache import TtlCache
from server.group_commit import GroupCommit
from server.openrosa.form_cache import FormCache
from server.openrosa.wakeups import WakeUps
from server.services.ingest_insert import insert_new_rows_held
from server.storage.blobs import BlobStore
from server.task_queue import PROCESS_SUBMISSION

_RECEIVER = "dmip.openrosa.receiver"
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


@dataclass(frozen=True)
class Receiver:
    """What the OpenRosa handlers of one app share within a process."""

    state: AppState
    blobs: BlobStore
    forms: FormCache
    # Org units by code; only units that exist are remembered, so a new one is seen at once.
    places: TtlCache[str, Place]
    # The queue of PROCESS_SUBMISSION tasks to publish, sent by the app's task sender.
    wakeups: WakeUps
    # New submission rows of this process's concurrent requests, one INSERT per group
    # (PostgreSQL; None on SQLite, where every writer waits for the one lock anyway).
    inserts: GroupCommit[dict[str, Any], int | None] | None


def receiver() -> Receiver:
    """The current app's `Receiver` (made at first use)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found: Receiver | None = app.extensions.get(_RECEIVER)
    if found is None:
        found = app.extensions.setdefault(_RECEIVER, _new_receiver(app.extensions[EXTENSION]))
    return found


def _new_receiver(app_state: AppState) -> Receiver:
    inserts = None
    if not app_state.settings.is_sqlite:
        # The database is looked up at each write: tests swap the app's database.
        inserts = GroupCommit(lambda rows: insert_new_rows_held(app_state.db.held_connection, rows))
    return Receiver(
        state=app_state,
        blobs=BlobStore(app_state.settings.attachments_dir),
        forms=FormCache(),
        places=TtlCache(PLACE_TTL),
        wakeups=WakeUps(
            lambda ids: app_state.tasks.send(PROCESS_SUBMISSION, ids),
            app_state.settings.worker_batch,
            app_state.settings.wakeup_interval_ms / 1000,
            app_state.settings.wakeup_max_interval_ms / 1000,
        ),
        inserts=inserts,
    )


def blob_store() -> BlobStore:
    return receiver().blobs


def form_cache() -> FormCache:
    return receiver().forms


def wakeups() -> WakeUps:
    return receiver().wakeups
