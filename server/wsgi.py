"""WSGI entry point for gunicorn: `gunicorn server.wsgi:app`. Settings come from the environment."""

from server.app import create_app, prepare_for_requests
from server.body_timeout import BodyTimeout
from server.settings import Settings

settings = Settings.from_env()
app = create_app(settings)
# Inside the app object, so gunicorn still loads `app` and the app's error handlers answer the
# 408 in the client's dialect (see server/body_timeout.py).
app.wsgi_app = BodyTimeout(app.wsgi_app, settings.body_timeout)  # type: ignore[method-assign]
# Each gunicorn worker builds its app after the fork (preload_app is off), so this runs in each.
prepare_for_requests(app)
