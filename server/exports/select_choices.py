"""The choices made in a form's select_multiples, for Central's splitSelectMultiples: it
splits by what was answered, not by the form's choice list, so choices from a file and choices
a later version removed have columns too."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, func, select, true
from sqlalchemy.orm import Session, aliased

from server.exports.layout import Table
from server.models import OrgUnit, Submission, SubmissionRow
from server.queries.submission_filters import SubmissionFilter


def chosen_values(
    session: Session, tables: Sequence[Table], filters: SubmissionFilter
) -> dict[tuple[str, str], list[str]]:
    """For each select_multiple, the choices made in the selected submissions, sorted: the
    columns Central's splitSelectMultiples adds (it splits by what was answered, not by the
    form's choice list, so choices from a file and removed choices have columns too)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    found: dict[tuple[str, str], list[str]] = {}
    for table in tables:
        for column in table.columns:
            if not column.multiple or column.choice is not None:
                continue
            rows = aliased(SubmissionRow)
            if postgres:
                value = rows.data[column.key]
                elements = func.jsonb_array_elements_text(value).table_valued("value")
                is_list = func.jsonb_typeof(value) == "array"
            else:
                path = '$."' + column.key.replace('"', '\\"') + '"'
                elements = func.json_each(rows.data, path).table_valued("value")
                is_list = func.json_type(rows.data, path) == "array"
            query = (
                select(elements.c.value)
                .distinct()
                .select_from(Submission)
                .outerjoin(OrgUnit, OrgUnit.id == Submission.org_unit_id)
                .join(
                    rows,
                    and_(
                        rows.submission_id == Submission.id,
                        rows.repeat_path == table.repeat_path,
                    ),
                )
                .join(elements, true())
                .where(filters.condition(), is_list)
            )
            values = sorted(str(v) for v in session.scalars(query) if v not in (None, ""))
            found[(table.repeat_path, column.key)] = values
    return found
