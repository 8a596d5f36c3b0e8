"""The DMIP server: receiver, read side, review app and the domain logic they share.

Layers, highest first (each imports only those below it; `.importlinter` enforces it):

    entry points      wsgi.py, cli.py and commands/, gunicorn_conf.py, embedded.py
    app factory       app.py
    HTTP              openrosa/ (ODK Collect), api/ (JSON), web/ (pages), health.py
    request state     app_state.py (the request's session, the process's state)
    application       services/ (writes), plans/, exports/, demo/, quality/, queries/
    persistence       aggregation/ (the aggregates in SQL), auth/ (credentials and access)
    infrastructure    models/, storage/, task_queue.py, db.py, settings.py, ...
    domain            domain/ (pure: no Flask, SQLAlchemy or Celery)
"""
