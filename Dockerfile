# One image for the web server (gunicorn), the watch server (gunicorn's asgi worker), the Celery worker and
# Celery beat: see docker-compose.yml. nginx, in front, is the official image with deploy/nginx/'s template.
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
COPY deploy/ deploy/
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
# 8000: the web server; 8001: the watch server. Neither is meant to be published: nginx is.
EXPOSE 8000 8001
# The web server; deploy/gunicorn.conf.py reads WEB_CONCURRENCY, WEB_THREADS and PORT.
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "warehouse.wsgi"]
