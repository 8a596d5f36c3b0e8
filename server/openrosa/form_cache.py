"""Per-process memory of which form version a submission names, for the POST hot path.

Every submission names (xmlFormId, version); looking that up, with the version's schema to find
its location fields, is the same answer for thousands of requests. Entries live TTL seconds
(5 by default): closing a form therefore takes effect within 5 seconds in every web process,
which is acceptable for a decision an admin makes by hand, and needs no cross-process signal.
Only found versions are remembered, so a newly published form is seen at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from server.domain.xform.schema import location_fields
from server.models import Form, FormVersion
from server.models.forms import VersionState

DEFAULT_TTL = 5.0


@dataclass(frozen=True)
class FormTarget:
    """A form and, when it exists, the version a submission named."""

    id: int  # Form.id; `id` and `roles` make this usable with server.auth.form_access.can_fill
    xml_form_id: str
    roles: list[str]
    version_id: int | None
    version_state: VersionState | None
    location_fields: dict[str, str]


def load_target(session: Session, xml_form_id: str, version: str) -> FormTarget | None:
    """One query: the form, outer-joined with its version of that name."""
    row = session.execute(
        select(Form.id, Form.roles, FormVersion.id, FormVersion.state, FormVersion.schema)
        .outerjoin(
            FormVersion, and_(FormVersion.form_id == Form.id, FormVersion.version == version)
        )
        .where(Form.xml_form_id == xml_form_id)
        # A draft may share its version with a published one, which is the one phones fill.
        .order_by(FormVersion.state == VersionState.draft)
    ).first()
    if row is None:
        return None
    form_id, roles, version_id, state, schema = row
    return FormTarget(
        id=form_id,
        xml_form_id=xml_form_id,
        roles=list(roles or []),
        version_id=version_id,
        version_state=state,
        location_fields=location_fields(schema or []) if version_id is not None else {},
    )


class FormCache:
    def __init__(self, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, FormTarget]] = {}
        self._lock = threading.Lock()

    def get(
        self, session: Callable[[], Session], xml_form_id: str, version: str
    ) -> FormTarget | None:
        """The form and version, remembered for the TTL; `session` makes the session a miss
        queries with (a hit needs none)."""
        key = (xml_form_id, version)
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        target = load_target(session(), xml_form_id, version)
        if target is not None and target.version_id is not None:
            with self._lock:
                if len(self._entries) > 10_000:  # bounded against floods of distinct names
                    self._entries.clear()
                self._entries[key] = (now + self._ttl, target)
        return target

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
