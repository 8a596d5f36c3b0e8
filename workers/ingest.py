"""Processing one stored submission: validate, flatten, record the outcome.

One transaction (the caller's session) covers the lock, the rows and the status, so a database
that goes away half-way leaves the submission `received`, to be retried or swept.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.aggregation import store as aggregates
from server.db import utcnow
from server.models import Form, FormVersion, Submission, SubmissionRow
from server.models.submissions import ProcessingStatus
from workers.processing import FormSpec, Problem, Result, process

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    processed = "processed"
    failed = "failed"
    skipped = "skipped"  # already done (perhaps by another worker), or not there at all


def process_submission(session: Session, submission_id: int) -> Outcome:
    """Process submission `submission_id` if it is still waiting; the caller commits."""
    # Wait for the row's lock rather than skip a locked row. Other holders are short: the
    # receiver merging a resend of the same instance, the sweeper claiming it, or a second
    # delivery of this task. Skipping left the row `received` with nobody woken for it until
    # the next sweep; waiting costs little, and the status check below then skips a row that
    # the other holder has processed meanwhile. (SQLite ignores FOR UPDATE and serialises.)
    query = select(Submission).where(Submission.id == submission_id).with_for_update()
    submission = session.scalars(query).one_or_none()
    if submission is None:
        log.warning("submission %s does not exist; nothing to process", submission_id)
        return Outcome.skipped
    if submission.processing_status != ProcessingStatus.received:
        log.info("submission %s is already %s", submission_id, submission.processing_status.value)
        return Outcome.skipped

    version = session.get(FormVersion, submission.form_version_id)
    form = session.get(Form, submission.form_id)
    assert version is not None and form is not None  # foreign keys guarantee both
    spec = FormSpec(form.xml_form_id, version.version, version.schema)
    try:
        result = process(submission.xml, spec)
    except Exception as exc:  # a bug, not bad data: retrying the same bytes cannot help
        log.exception("processing submission %s raised", submission_id)
        result = Result([], [Problem("", f"The server could not process this submission ({exc}).")])

    session.execute(delete(SubmissionRow).where(SubmissionRow.submission_id == submission.id))
    submission.attempts = (submission.attempts or 0) + 1
    if result.ok:
        session.add_all(
            SubmissionRow(
                submission_id=submission.id,
                repeat_path=row.repeat_path,
                position=row.position,
                parent_position=row.parent_position,
                data=row.data,
            )
            for row in result.rows
        )
        submission.processing_status = ProcessingStatus.processed
        submission.failure_reason = None
        submission.processed_at = utcnow()
        log.info("submission %s processed: %d rows", submission_id, len(result.rows))
        aggregates.submission_processed(session, submission)
        return Outcome.processed
    submission.processing_status = ProcessingStatus.failed
    submission.failure_reason = result.failure_reason()
    submission.processed_at = utcnow()
    log.info("submission %s failed: %s", submission_id, result.failure_reason())
    # A failed edit still leaves the submission it replaces as it was; nothing to retract, but
    # the hook keeps the rule in one place.
    aggregates.submission_processed(session, submission)
    return Outcome.failed
