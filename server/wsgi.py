"""WSGI entry point for gunicorn: `gunicorn server.wsgi:app`. Settings come from the environment."""

from server.app import create_app, prepare_for_requests

app = create_app()
# Each gunicorn worker builds its app after the fork; what would otherwise happen on the first
# request of every worker (and hold it back by half a second) happens here.
prepare_for_requests(app)
