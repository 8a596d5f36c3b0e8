"""The Celery entry point: the app, thin idempotent tasks, the sweeper, and what only
workers run (processing batches of submissions, redrawing due plans, building documents)."""
