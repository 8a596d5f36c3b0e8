"""Which submissions of a form a list or an export covers: filters read from a query string,
kept as JSON on an export job, and turned into one SQL condition.

The user's scope is part of the filter (`scope_paths`, None for everywhere) so a list page and
an export job started from it can never cover more than the user may see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, select, true

from server.models import OrgUnit, Submission
from server.models.org import under
from server.models.submissions import ProcessingStatus, ReviewState

E = TypeVar("E", ReviewState, ProcessingStatus)


class FilterError(ValueError):
    """A filter value that cannot be used; the message names the field and what is allowed."""


@dataclass(frozen=True)
class SubmissionFilter:
    form_id: int
    # Org-unit paths the user may see; None means everywhere (admins).
    scope_paths: tuple[str, ...] | None = None
    org_unit: str | None = None  # an org-unit code: that unit and everything under it
    received_from: dt.date | None = None
    received_to: dt.date | None = None  # inclusive
    review_state: ReviewState | None = None
    processing_status: ProcessingStatus | None = None
    submitter_id: int | None = None
    demo: bool | None = None

    @classmethod
    def from_args(
        cls, form_id: int, args: Mapping[str, str], scope_paths: tuple[str, ...] | None
    ) -> SubmissionFilter:
        """Read the filters of a list page's query string; FilterError on a bad value."""

        def text(name: str) -> str | None:
            value = (args.get(name) or "").strip()
            return value or None

        return cls(
            form_id=form_id,
            scope_paths=scope_paths,
            org_unit=text("org_unit"),
            received_from=_date(text("from"), "From"),
            received_to=_date(text("to"), "To"),
            review_state=_choice(text("review"), ReviewState, "Review state"),
            processing_status=_choice(text("status"), ProcessingStatus, "Processing status"),
            submitter_id=_int(text("submitter"), "Submitter"),
            demo=_demo(text("demo")),
        )

    def restricted_to(self, submitter_id: int) -> SubmissionFilter:
        """The same filter over one submitter's own submissions (an enumerator's view)."""
        return replace(self, submitter_id=submitter_id)

    def query_args(self) -> dict[str, str]:
        """The query string that reproduces this filter (scope excluded: it is the user's)."""
        out = {
            "org_unit": self.org_unit,
            "from": self.received_from.isoformat() if self.received_from else None,
            "to": self.received_to.isoformat() if self.received_to else None,
            "review": self.review_state.value if self.review_state else None,
            "status": self.processing_status.value if self.processing_status else None,
            "submitter": str(self.submitter_id) if self.submitter_id is not None else None,
            "demo": None if self.demo is None else ("yes" if self.demo else "no"),
        }
        return {k: v for k, v in out.items() if v is not None}

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["scope_paths"] = list(self.scope_paths) if self.scope_paths is not None else None
        for key in ("received_from", "received_to"):
            data[key] = data[key].isoformat() if data[key] else None
        for key in ("review_state", "processing_status"):
            data[key] = data[key].value if data[key] else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SubmissionFilter:
        paths = data.get("scope_paths")
        return cls(
            form_id=int(data["form_id"]),
            scope_paths=tuple(paths) if paths is not None else None,
            org_unit=data.get("org_unit"),
            received_from=_date(data.get("received_from"), "From"),
            received_to=_date(data.get("received_to"), "To"),
            review_state=_choice(data.get("review_state"), ReviewState, "Review state"),
            processing_status=_choice(
                data.get("processing_status"), ProcessingStatus, "Processing status"
            ),
            submitter_id=data.get("submitter_id"),
            demo=data.get("demo"),
        )

    def condition(self) -> ColumnElement[bool]:
        """The WHERE condition over `Submission` outer-joined to `OrgUnit` (see `select`)."""
        parts: list[ColumnElement[bool]] = [
            Submission.form_id == self.form_id,
            Submission.deleted_at.is_(None),
            # An edit replaces its original in every list; the original stays in its history.
            Submission.current.is_(True),
        ]
        if self.scope_paths is not None:
            parts.append(under(OrgUnit.path, self.scope_paths))
        if self.org_unit is not None:
            unit = select(OrgUnit.path).where(OrgUnit.code == self.org_unit).scalar_subquery()
            # A plain prefix comparison, not LIKE: codes may hold "_" or "%".
            parts.append(func.substr(OrgUnit.path, 1, func.length(unit)) == unit)
        if self.received_from is not None:
            parts.append(Submission.received_at >= _midnight(self.received_from))
        if self.received_to is not None:
            parts.append(
                Submission.received_at < _midnight(self.received_to + dt.timedelta(days=1))
            )
        if self.review_state is not None:
            parts.append(Submission.review_state == self.review_state)
        if self.processing_status is not None:
            parts.append(Submission.processing_status == self.processing_status)
        if self.submitter_id is not None:
            parts.append(Submission.submitter_id == self.submitter_id)
        if self.demo is not None:
            parts.append(Submission.demo.is_(self.demo))
        return and_(true(), *parts)

    def select(self, *entities: Any) -> Select[Any]:
        """SELECT `entities` (default: Submission) of the matching submissions, unordered."""
        query = select(*(entities or (Submission,)))
        return query.outerjoin(OrgUnit, OrgUnit.id == Submission.org_unit_id).where(
            self.condition()
        )


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _date(value: str | None, label: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{label}: {value!r} is not a date (use YYYY-MM-DD).") from None


def _choice(value: str | None, enum: type[E], label: str) -> E | None:
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise FilterError(f"{label}: {value!r} is not one of {allowed}.") from None


def _int(value: str | None, label: str) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or len(value) > 18:
        raise FilterError(f"{label}: {value!r} is not a user number.")
    return int(value)


def _demo(value: str | None) -> bool | None:
    if value is None or value == "any":
        return None
    if value in ("yes", "no"):
        return value == "yes"
    raise FilterError(f"Demo data: {value!r} is not one of yes, no, any.")
