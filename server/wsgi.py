"""WSGI entry point for gunicorn: `gunicorn server.wsgi:app`. Settings come from the environment."""

from server.app import create_app, prepare_for_requests

app = create_app()
# Each gunicorn worker builds its app after the fork (preload_app is off), so this runs in each.
prepare_for_requests(app)
