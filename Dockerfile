# Lesslabel image: one image for the web server and the Dramatiq workers.
#
#   web (default CMD):  migrate, then daphne on :8000
#   workers:            docker run ... IMAGE python manage.py rundramatiq --processes 1 --threads 1 --queues gpu
#                       docker run -e dramatiq_worker_timeout=100 ... IMAGE python manage.py rundramatiq --processes 1 --threads 1 --queues default
#                       (--queues gpu alone for a GPU-only worker; add --gpus all to docker run for the GPU)
#
# The worker needs no HEALTHCHECK, as it serves no HTTP; docker-compose.yml turns it off there.
# Build from the repository root: docker build -t lesslabel .

# --- Stage 1: the front end (TypeScript + Vite) into frontend/dist --------------------------------
FROM node:20-bookworm-slim AS frontend
WORKDIR /src/frontend
# The lock file first, so `npm ci` stays cached until the dependencies change.
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# --- Stage 2: the Python app ---------------------------------------------------------------------
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LESSLABEL_VAR_DIR=/app/var \
    MEDIA_ROOT=/data/media \
    dramatiq_queue_prefetch=1
# dramatiq_queue_prefetch=1: a worker holds one message at a time, so a second training run waits
# in Redis for the next free worker instead of queueing behind the first on a busy one.

# No apt packages: every requirement installs from a manylinux wheel (psycopg[binary] carries libpq,
# torch carries its own libgomp), and the HEALTHCHECK uses Python rather than curl.

# The unprivileged user. /data/media exists and belongs to it, so an empty named volume mounted
# there starts out owned by it (Docker copies the mount point's ownership into a new volume).
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app \
    && mkdir -p /app/var /data/media \
    && chown -R app:app /app /data

WORKDIR /app

# torch==2.14.1 from PyPI is the CUDA build (it pulls the nvidia-* / cuda-toolkit wheels, several GB):
# that is what the GPU worker wants, and it runs on the CPU too when no GPU is visible. The wheels
# are for x86_64 Linux; the NVIDIA driver on the host must support the CUDA version they are built for.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY --chown=app:app . .
COPY --from=frontend --chown=app:app /src/frontend/dist ./frontend/dist

USER app

# Static files (Django admin, DRF, frontend/dist) into STATIC_ROOT=/app/var/static, compressed for
# whitenoise. Settings need a SECRET_KEY to load; this one exists only for this command (it is not
# kept in the image), and without it settings would write a generated key into the image's var/.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput

EXPOSE 8000

# /healthz answers 200 when the database and Redis are reachable, 503 otherwise (urlopen raises).
# It connects as "localhost", which ALLOWED_HOSTS must therefore include.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8000/healthz', timeout=4)"]

# exec: daphne replaces the shell, so `docker stop` (SIGTERM) reaches it rather than the shell.
CMD ["sh", "-c", "python manage.py migrate --noinput && exec daphne -b 0.0.0.0 -p 8000 webapp.asgi:application"]
