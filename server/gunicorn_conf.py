"""gunicorn settings for the production web processes (`--config python:server.gunicorn_conf`).

Overridable from the environment: GUNICORN_WORKERS, GUNICORN_THREADS, GUNICORN_WORKER_CLASS,
GUNICORN_BIND, GUNICORN_TIMEOUT.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Threads, not only processes: a submission spends much of its time waiting on PostgreSQL's
# commit, and a thread lets the process serve another request meanwhile; gthread also keeps
# connections alive between requests. One process per core (plus one) bounds the memory, and
# the threads cover the waits.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("GUNICORN_WORKERS", str(multiprocessing.cpu_count() + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Collect uploads over slow mobile links: give a slow client time to send a big body.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
# Each worker builds its own engine and pool after the fork (the app factory runs per worker).
preload_app = False
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
