# One image for the web, worker and beat processes of the production stack.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY server ./server
COPY workers ./workers
COPY forms ./forms
RUN pip install . && useradd --create-home --uid 1000 dmip && mkdir -p /data && chown dmip /data

USER dmip
ENV DMIP_DATA_DIR=/data DMIP_FORMS_DIR=/app/forms
EXPOSE 8000
CMD ["gunicorn", "--config", "python:server.gunicorn_conf", "server.wsgi:app"]
