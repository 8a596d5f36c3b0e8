"""Pure XForm and submission-XML logic: no Flask, SQLAlchemy or Celery here."""
