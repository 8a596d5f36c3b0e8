"""Document jobs: a district's DMIP or the cross-district synthesis as DOCX or PDF, written
by the worker with its progress committed as it goes (server/plans/documents.py draws them)."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.orm import Session

from server import jobs
from server.db import Database
from server.domain.scope import Scope
from server.models import DmipPlan, DocumentJob, User
from server.plans.documents import EVERYWHERE, plan_document, synthesis_document

log = logging.getLogger(__name__)


def run_job(db: Database, job_id: int, out_dir: Path) -> DocumentJob | None:
    """Run one document job (the worker task): progress is committed as it goes, so a
    browser polling the job sees it move; a failure is recorded with its reason. A job
    running elsewhere, done or failed is left alone (server/jobs.py)."""
    if not jobs.claim(db, DocumentJob, job_id):
        with db.session() as session:
            return session.get(DocumentJob, job_id)
    progress = jobs.Progress(db, DocumentJob, job_id, step=0.05)
    try:
        with db.session() as session:
            job = session.get(DocumentJob, job_id)
            assert job is not None
            if job.plan_id is not None:
                plan = session.get(DmipPlan, job.plan_id)
                assert plan is not None
                data = plan_document(session, plan, job.format, progress)
                name = f"dmip-{plan.id}-{job.id}.{job.format}"
            else:
                data = synthesis_document(
                    session, job.cycle, job.format, progress, _requester_scope(session, job)
                )
                name = f"synthesis-{job.cycle.replace('/', '-')}-{job.id}.{job.format}"
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / name
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
        return jobs.finish(db, DocumentJob, job_id, str(path))  # type: ignore[return-value]
    except Exception as exc:
        log.exception("document job %s failed", job_id)
        return jobs.fail(db, DocumentJob, job_id, str(exc))  # type: ignore[return-value]


def _requester_scope(session: Session, job: DocumentJob) -> Scope:
    """A synthesis shows the districts of whoever asked for it (a job made by a command,
    with nobody named, is an administrator's)."""
    if job.requested_by_id is None:
        return EVERYWHERE
    requester = session.get(User, job.requested_by_id)
    return requester.scope if requester is not None else Scope(everywhere=False)
