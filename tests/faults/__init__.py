"""Fault injection: the whole production stack in processes of its own (PostgreSQL, Redis,
gunicorn, Celery workers and beat), a stream of submissions over HTTP as Collect sends them,
and a fault in the middle; after recovery every accepted submission is processed exactly once
and the indicators equal a rebuild. bench/soak runs the same harness for longer."""
