"""The Celery application the worker and beat processes run:

    celery -A workers.celery_app worker --loglevel=INFO
    celery -A workers.celery_app beat

Settings come from the environment (server/settings.py), exactly as for the web processes.
"""

from __future__ import annotations

from celery import Celery

from server.settings import Settings
from server.task_queue import celery_config


def make_celery(settings: Settings) -> Celery:
    celery = Celery("dmip")
    celery.conf.update(celery_config(settings))
    celery.conf.dmip_settings = settings
    # Importing the task modules registers the tasks by name (see server/task_queue.py).
    celery.conf.include = ["workers.tasks"]
    return celery


app = make_celery(Settings.from_env())
