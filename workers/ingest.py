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
    skipped = "skipped"  # already done, being done by another worker, or not there at all


def process_submission(session: Session, submission_id: int) -> Outcome:
    """Process submission `submission_id` if it is still waiting; the caller commits."""
    query = select(Submission).where(Submission.id == submission_id)
    if session.get_bind().dialect.name == "postgresql":
        # A second delivery of the same task, running at the same moment in another worker,
        # skips the row instead of waiting for it and then processing it again.
        query = query.with_for_update(skip_locked=True)
    submission = session.scalars(query).one_or_none()
    if submission is None:
        exists = session.scalar(select(Submission.id).where(Submission.id == submission_id))
        if exists is None:
            log.warning("submission %s does not exist; nothing to process", submission_id)
        else:
            log.info("submission %s is being processed by another worker", submission_id)
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
