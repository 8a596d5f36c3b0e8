"""Celery workers: the app, thin tasks, and the pure processing logic they call."""
