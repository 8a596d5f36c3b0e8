"""Sending work to the Celery workers, by task name, after the transaction commits.

The queue is only a wake-up call: the row in the database is the record of work to do, and the
sweeper (workers/tasks.py) re-sends anything the queue lost. So a broker that is down makes
`send` log and return False; it never fails the request that committed the data.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from kombu import Queue

from server.settings import Settings

log = logging.getLogger(__name__)

PROCESS_SUBMISSION = "dmip.process_submission"
SWEEP = "dmip.sweep"
REGENERATE_PLANS = "dmip.regenerate_plans"
EXPORT_DOCUMENT = "dmip.export_document"
EXPORT_TASK = "dmip.export"
# The long tasks (redrawing district plans, writing documents and data exports: seconds to
# minutes each) go to a queue of their own. A worker started for the default queue alone
# (`-Q celery`, as docker-compose.yml and deploy/systemd run the processing worker) then never
# has a submission's task wait behind them: after a rebuild marks every plan stale, redrawing
# them once held new submissions back for a minute and more. A worker started without -Q
# takes both queues (`dmip serve`, a one-worker install).
DEFAULT_QUEUE = "celery"
SLOW_QUEUE = "slow"
SLOW_TASKS = (REGENERATE_PLANS, EXPORT_DOCUMENT, EXPORT_TASK)
# How often the worker looks for district plans whose data changed and has settled.
PLAN_REGENERATION_INTERVAL = 5.0


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings shared by the sender (web) and the workers."""
    config: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_backend": None,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 4,
        # A worker outlives its broker: it retries the connection at startup and after a loss,
        # forever (Celery's default gives up after 100 attempts, about an hour, and exits).
        "broker_connection_retry_on_startup": True,
        "broker_connection_retry": True,
        "broker_connection_max_retries": None,
        # A task running when the connection drops finishes and commits; its ack is lost, so
        # Redis redelivers the message, which then finds the submission already processed.
        # Cancelling it instead would only throw the work away.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        # A publish must not hang a web request when the broker is away.
        "broker_connection_timeout": 2,
        "broker_transport_options": {
            # A message whose worker died unacknowledged goes back on the queue after this; the
            # sweeper re-sends a submission long before (after DMIP_SWEEP_GRACE).
            "visibility_timeout": 3600,
            # Bound every wait on Redis: connecting to a host that does not answer, and a read
            # on a connection that died without closing (a failover, a NAT or firewall
            # timeout), which would otherwise block a publish forever. Longer than the
            # worker's 1 s BRPOP, so an idle worker never times out.
            "socket_connect_timeout": 2,
            "socket_timeout": 10,
            "socket_keepalive": True,
        },
        "beat_schedule": {
            "sweep": {
                "task": SWEEP,
                "schedule": float(settings.sweep_interval),
                # A sweep nobody ran before the next one is due is worthless: while the worker
                # is down they would pile up in the queue.
                "options": {"expires": float(settings.sweep_interval)},
            },
            "regenerate-plans": {
                "task": REGENERATE_PLANS,
                "schedule": PLAN_REGENERATION_INTERVAL,
                "options": {"expires": PLAN_REGENERATION_INTERVAL},
            },
        },
    }
    config["task_queues"] = (Queue(DEFAULT_QUEUE), Queue(SLOW_QUEUE))
    config["task_default_queue"] = DEFAULT_QUEUE
    config["task_routes"] = {name: {"queue": SLOW_QUEUE} for name in SLOW_TASKS}
    if settings.broker_url.startswith("filesystem://"):
        # The embedded mode: a queue of files in the data directory, no Redis needed.
        queue_dir = settings.data_dir / "queue"
        for sub in ("in", "processed", "control"):
            (queue_dir / sub).mkdir(parents=True, exist_ok=True)
        config["broker_transport_options"] = {
            "data_folder_in": str(queue_dir / "in"),
            "data_folder_out": str(queue_dir / "in"),
            "processed_folder": str(queue_dir / "processed"),
            "store_processed": False,
            # Without this kombu writes its control exchange into the current directory.
            "control_folder": str(queue_dir / "control"),
        }
    return config


class TaskSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._celery: Celery | None = None

    @property
    def celery(self) -> Celery:
        if self._celery is None:
            app = Celery("dmip-sender", set_as_current=False)
            app.conf.update(celery_config(self.settings))
            self._celery = app
        return self._celery

    def prepare(self) -> None:
        """Import the broker's transport (kombu's Redis transport imports the redis client,
        about half a second) without connecting to it."""
        with self.celery.connection_for_write() as connection:
            connection.get_transport_cls()

    def send(self, name: str, *args: Any) -> bool:
        try:
            self.celery.send_task(name, args=list(args), retry=False)
        except Exception as exc:  # the broker is down or unreachable: the sweeper will catch up
            log.warning("could not send %s%r to the broker: %s", name, args, exc)
            return False
        return True
