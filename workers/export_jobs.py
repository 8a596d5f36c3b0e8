"""The worker task that builds a submissions export (CSV zip or XLSX) for an ExportJob. Thin:
the job id in, the work done by server/exports/submissions.py, progress committed as it goes."""

from __future__ import annotations

from celery import shared_task

from server.exports.submissions import run_job
from server.storage.blobs import BlobStore
from server.task_queue import EXPORT_TASK
from workers import runtime


@shared_task(name=EXPORT_TASK, ignore_result=True, acks_late=True)
def export_submissions(job_id: int) -> str:
    """Run one export job. A second delivery (acks_late after a lost worker) finds the job
    running or done and leaves it; a job that failed says why."""
    settings = runtime.settings()
    job = run_job(
        runtime.database(),
        int(job_id),
        settings.data_dir / "exports",
        BlobStore(settings.attachments_dir),
    )
    return job.state if job is not None else "missing"
