"""The one-command mode (`dmip serve`): what the server needs before it serves
(`bootstrap`) and the Celery worker supervised beside the web server (`supervisor`)."""
