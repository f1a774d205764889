# One image for the web server (gunicorn), the Celery worker and Celery beat: see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app
RUN useradd --system --create-home --uid 10001 warehouse

# Dependencies first, in their own layer: a code change does not reinstall them. The editable install
# points at /app/warehouse, which the next COPY fills in; settings find templates/ and static/ beside it.
COPY pyproject.toml README.md ./
RUN mkdir warehouse && touch warehouse/__init__.py && pip install -e .

COPY manage.py ./
COPY warehouse/ warehouse/
COPY templates/ templates/
COPY static/ static/
COPY scripts/healthcheck.py scripts/healthcheck.py

# Static files are collected into the image and served by WhiteNoise. Loading the settings needs a secret
# key: this one signs nothing and is not in the running containers, which must be given their own.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-this-key-signs-nothing-and-never-runs-a-server \
    ALLOWED_HOSTS=localhost WAREHOUSE_VAR_DIR=/tmp/build-var \
    python manage.py collectstatic --noinput \
 && rm -rf /tmp/build-var \
 && mkdir -p /app/var /artifacts \
 && chown warehouse:warehouse /app/var /artifacts

USER warehouse
EXPOSE 8000
# gunicorn reads the number of workers from WEB_CONCURRENCY.
CMD ["gunicorn", "warehouse.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
