"""Sightline settings: everything comes from the environment.

Every variable is documented in the README (Configuration). With nothing set, the project runs
on embedded defaults (SQLite under ``var/``, tasks in-process, no keys). ``DJANGO_ENV=production``
refuses to start without what production needs.
"""

import ipaddress
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; real environment variables win

ENVIRONMENTS = ("development", "test", "production")


def env_str(name: str, default: str | None = None) -> str:
    """A string variable; required when ``default`` is None."""
    if default is None:  # environ's NOTSET, not None, is what makes a missing variable raise
        return str(env.str(name))
    return str(env.str(name, default=default))


def env_bool(name: str, default: bool) -> bool:
    raw = env.str(name, default="")
    if raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


_Number = TypeVar("_Number", int, float)


def _env_number(
    name: str, default: _Number, cast: type[_Number], kind: str, minimum: _Number | None
) -> _Number:
    raw = env.str(name, default="")
    if raw == "":
        return default
    try:
        value = cast(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be {kind}, got {raw!r}") from exc
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    return _env_number(name, default, int, "an integer", minimum)


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    return _env_number(name, default, float, "a number", minimum)


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env.str(name, default="")
    if raw == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DJANGO_ENV = env_str("DJANGO_ENV", "development")
if DJANGO_ENV not in ENVIRONMENTS:
    raise ImproperlyConfigured(f"DJANGO_ENV must be one of {ENVIRONMENTS}, got {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"


def _development_secret_key() -> str:
    """A key generated once into var/ so sessions survive restarts in development."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


if PRODUCTION:
    SECRET_KEY = env_str("SECRET_KEY")
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure-"):
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters in production")
else:
    SECRET_KEY = env_str("SECRET_KEY", "") or _development_secret_key()

DEBUG = env_bool("DEBUG", default=DJANGO_ENV == "development")
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production")

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS",
    [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver", "[::1]"],
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required in production")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "market.core",
    "market.accounts",
    "market.ledger",
    "market.payments",
    "bounties",
    "web",
    "django_htmx",
    "verification",
    "forecasting",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout page (web.views.accounts).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "market.urls"
WSGI_APPLICATION = "market.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
if PRODUCTION and DATABASE_URL.startswith("sqlite"):
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL in production")
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60 if PRODUCTION else 0)
SILENCED_SYSTEM_CHECKS: list[str] = []
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # The duplicate index's covering indexes (INCLUDE) are PostgreSQL's; SQLite (development)
    # gets plain ones, which is all W040 says.
    SILENCED_SYSTEM_CHECKS.append("models.W040")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if DJANGO_ENV == "test":
    # Hashing passwords for real costs ~0.2 s each: tests create hundreds of users.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "find"
# django-axes checks every password attempt first (login and the admin), then Django's backend.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Files ----------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it; collectstatic fills it
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME", "")
_default_storage: dict[str, Any]
if AWS_STORAGE_BUCKET_NAME:
    # Any S3-compatible store; credentials come from the usual AWS_* variables.
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("AWS_S3_REGION_NAME", "") or None,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Cache (throttling) ---------------------------------------------------------------------
# Every throttle (API, log-in lockouts, sign-up and reset limits) counts in this cache, so it must
# be shared by all web processes: with a Redis broker it defaults to the broker's server, the
# next database number (so flushing the cache never touches the queues).
_CACHE_PER_PROCESS = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
)


def _cache_url_beside_broker(broker_url: str) -> str:
    """redis://host:6379/0 -> redis://host:6379/1; "" when the broker is not Redis."""
    parts = urlsplit(broker_url)
    if parts.scheme not in ("redis", "rediss"):
        return ""
    database = parts.path.strip("/") or "0"
    if not database.isdigit() or int(database) >= 15:
        raise ImproperlyConfigured(
            "CACHE_URL is required: the broker uses the last Redis database, so there is none "
            "free beside it"
        )
    return parts._replace(path=f"/{int(database) + 1}").geturl()


CACHE_URL = env_str("CACHE_URL", "") or _cache_url_beside_broker(env_str("CELERY_BROKER_URL", ""))
if PRODUCTION and not CACHE_URL:
    raise ImproperlyConfigured("CACHE_URL is required in production (a Redis URL)")
CACHES = {"default": env.cache_url_config(CACHE_URL or "locmemcache://")}
if PRODUCTION and CACHES["default"]["BACKEND"] in _CACHE_PER_PROCESS:
    raise ImproperlyConfigured(
        "CACHE_URL must name a shared cache (Redis) in production: throttles and lockouts "
        "counted per process do not hold across web workers"
    )

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "")
if PRODUCTION and not CELERY_BROKER_URL:
    raise ImproperlyConfigured("CELERY_BROKER_URL is required in production")
# No broker: every task runs in-process, synchronously (the embedded default).
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
WORKER_QUEUES = ("default", "verify")
CELERY_TASK_QUEUES = [Queue(name) for name in WORKER_QUEUES]
CELERY_TASK_ROUTES = {"verification.*": {"queue": "verify"}}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - max(1, CELERY_TASK_TIME_LIMIT // 10)
# Must exceed the longest task so an unacked task is not redelivered while still running.
# Redis: a worker that died without acknowledging (SIGKILL, OOM, a lost machine) leaves its
# jobs in the unacked set; every live worker scans it about every CELERY_UNACKED_RESTORE_SECONDS
# and requeues those older than the visibility timeout.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_TASK_TIME_LIMIT * 4,
    "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_SECONDS", 60, minimum=1),
    "unacked_restore_throttle": 1,
}

CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    f"heartbeat-{queue}": {
        "task": "market.core.tasks.worker_heartbeat",
        "schedule": 60.0,
        "options": {"queue": queue, "expires": 55},
        "kwargs": {"queue": queue},
    }
    for queue in WORKER_QUEUES
}
# Each worker process also records itself alive when ready and then every this many seconds
# (market/core/heartbeats.py): /api/v1/health/ shows a (re)started worker within seconds, and
# one that died as stale after this many missed beats.
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 15, minimum=1)
WORKER_HEARTBEAT_STALE_AFTER_BEATS = 3
CELERY_TIMEZONE = TIME_ZONE

# --- Client addresses -----------------------------------------------------------------------
# Proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed; from anyone else the
# header is ignored and the connection's address is the client's (market.core.proxies).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES must be IP addresses or CIDRs, got {_proxy!r}"
        ) from _exc

# --- Log-in, sign-up and password-reset throttles ----------------------------------------------
# django-axes: after LOGIN_FAILURE_LIMIT failed log-ins for one account, or from one address,
# both are refused for LOGIN_LOCKOUT_MINUTES (counted from the lockout: failures while locked
# out do not extend it), in the shared cache.
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "market.core.proxies.client_ip"
AXES_USERNAME_CALLABLE = "market.accounts.throttle.axes_username"
AXES_LOCKOUT_CALLABLE = "web.views.accounts.locked_out"
if not PRODUCTION:
    # axes.W001 warns that a per-process cache cannot hold lockouts; production refuses one.
    SILENCED_SYSTEM_CHECKS.append("axes.W001")
# Sign-ups and reset requests (each counted apart) per client address, and the mails either
# sends to one address, per hour.
AUTH_ATTEMPTS_PER_ADDRESS_PER_HOUR = env_int("AUTH_ATTEMPTS_PER_ADDRESS_PER_HOUR", 20, minimum=1)
AUTH_MAILS_PER_EMAIL_PER_HOUR = env_int("AUTH_MAILS_PER_EMAIL_PER_HOUR", 3, minimum=1)

# --- API ------------------------------------------------------------------------------------
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "600/min")
# A JSON request body past this answers 413 `too_large` (the largest valid one, a bounty with
# full instructions and metadata, is under 20 KB).
API_MAX_JSON_BYTES = env_int("API_MAX_JSON_BYTES", 1024 * 1024, minimum=1024)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["market.accounts.authentication.APIKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["market.accounts.permissions.HasAPIKeyScope"],
    "DEFAULT_THROTTLE_CLASSES": ["market.core.api.APIKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": API_THROTTLE_RATE},
    "DEFAULT_PAGINATION_CLASS": "market.core.api.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["market.core.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "market.core.problems.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sightline API",
    "DESCRIPTION": (
        "Post priced bounties for photos of the real world, and receive verified evidence. "
        "Authenticate with `Authorization: Bearer sl_...`. Every error is RFC 9457 "
        "`application/problem+json` with a stable `code`. A guide for agents: `/llms.txt`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "market.core.api.schema_bound_path_ids",
    ],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}

# --- Verification ---------------------------------------------------------------------------
VISION_MODEL_DIR = env_str("VISION_MODEL_DIR", "")

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # The health endpoint is probed over plain HTTP by load balancers.
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/$"]

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_api_keys": {"()": "market.accounts.logging.RedactAPIKeysFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_api_keys"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
DEFAULT_EXCEPTION_REPORTER_FILTER = "market.accounts.logging.SafeReporterFilter"


# --- Money ----------------------------------------------------------------------------------
def _fee_basis_points(raw: str) -> int:
    """PLATFORM_FEE_PERCENT ("10", "7.5") as basis points, with no float in between."""
    from decimal import Decimal, InvalidOperation

    try:
        percent = Decimal(raw)
    except InvalidOperation as exc:
        raise ImproperlyConfigured(f"PLATFORM_FEE_PERCENT must be a number, got {raw!r}") from exc
    basis_points = percent * 100
    if basis_points != basis_points.to_integral_value() or not 0 <= basis_points <= 5000:
        raise ImproperlyConfigured("PLATFORM_FEE_PERCENT must be 0 to 50 in steps of 0.01")
    return int(basis_points)


PLATFORM_FEE_BPS = _fee_basis_points(env_str("PLATFORM_FEE_PERCENT", "10"))
SUPPORTED_CURRENCIES = tuple(env_list("SUPPORTED_CURRENCIES", ["usd", "eur", "gbp"]))


# --- Stripe ---------------------------------------------------------------------------------
# Both keys empty (the embedded default) switches Stripe off: checkout is refused and payouts
# wait, with the reason shown in the admin, until the keys are set and the sweep runs again.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
# Stripe signs events from connected accounts (payouts, account updates) with the secret of a
# separate "Connect" endpoint; it may point at the same URL.
STRIPE_CONNECT_WEBHOOK_SECRET = env_str("STRIPE_CONNECT_WEBHOOK_SECRET", "")
if PRODUCTION and not (STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET):
    raise ImproperlyConfigured(
        "STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are required in production"
    )
PAYOUT_MINIMUM_MINOR = env_int("PAYOUT_MINIMUM_MINOR", 1000, minimum=1)
PAYOUT_SWEEP_SECONDS = env_int("PAYOUT_SWEEP_SECONDS", 24 * 60 * 60, minimum=60)
CELERY_BEAT_SCHEDULE["payouts-sweep"] = {
    "task": "market.payments.tasks.payouts_sweep",
    "schedule": float(PAYOUT_SWEEP_SECONDS),
}
CELERY_BEAT_SCHEDULE["reconcile-stripe"] = {
    "task": "market.payments.tasks.reconcile_stripe",
    "schedule": crontab(hour=3, minute=0),  # yesterday (UTC), once Stripe has settled it
}

# --- Bounties -------------------------------------------------------------------------------
# Ed25519 seed (32 bytes, base64) that signs provenance receipts; generated into var/ in
# development. Previous public keys (comma-separated base64) stay listed at /api/v1/keys/.
RECEIPT_SIGNING_KEY = env_str("RECEIPT_SIGNING_KEY", "")
if PRODUCTION and not RECEIPT_SIGNING_KEY:
    raise ImproperlyConfigured("RECEIPT_SIGNING_KEY is required in production")
RECEIPT_PREVIOUS_PUBLIC_KEYS = env_list("RECEIPT_PREVIOUS_PUBLIC_KEYS", [])
# Outgoing webhooks may target private addresses only outside production (no SSRF).
WEBHOOK_ALLOW_PRIVATE_HOSTS = env_bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", not PRODUCTION)
# The one upload limit: the web form, `submission_create` and the verification pipeline (given
# it at startup by `BountiesConfig.ready`) all refuse above it.
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 20 * 1024 * 1024, minimum=1024)
# Full image decodes at once per process (a 50 MP photo decodes into ~150-450 MB); the rest wait.
MAX_CONCURRENT_DECODES = env_int("MAX_CONCURRENT_DECODES", 2, minimum=1)
# A bounty's window starts at most this long ago and ends at most this far ahead: dates every
# later time check (capture times, claim ends) can compute with, never year 1 or 9999.
BOUNTY_MAX_START_AGE = timedelta(hours=env_int("BOUNTY_MAX_START_AGE_HOURS", 24, minimum=0))
BOUNTY_MAX_HORIZON = timedelta(days=env_int("BOUNTY_MAX_HORIZON_DAYS", 365, minimum=1))
CELERY_BEAT_SCHEDULE["bounties-expire-due"] = {
    "task": "bounties.tasks.expire_due",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["webhooks-send-due"] = {
    "task": "bounties.tasks.webhooks_send_due",
    "schedule": 15.0,
}
CELERY_BEAT_SCHEDULE["idempotency-keys-purge"] = {
    "task": "bounties.tasks.purge_idempotency_keys",
    "schedule": 3600.0,
}
# Relevance model micro-batching, and what a missing model means for the verdict.
VISION_MAX_BATCH = env_int("VISION_MAX_BATCH", 8, minimum=1)
VISION_MAX_WAIT_MS = env_int("VISION_MAX_WAIT_MS", 20, minimum=0)
# A Unix socket path: verify workers send preprocessed photos to `manage.py serve_vision` there
# (one process holds the model and batches across worker processes) instead of loading it.
VISION_SERVER = env_str("VISION_SERVER", "")
# How long the vision server lets one request wait for its batch before answering an error.
VISION_REQUEST_TIMEOUT_S = env_int("VISION_REQUEST_TIMEOUT_S", 60, minimum=1)


# ONNX Runtime threads for Open-NSFW per worker process (its idle threads sleep, not spin).
VERIFY_SAFETY_THREADS = env_int("VERIFY_SAFETY_THREADS", 1, minimum=1)
# Verification runs of one submission before it goes to a person with the last error: the fast
# stage and the model stage count one each, redeliveries and sweeps too.

VERIFY_MAX_ATTEMPTS = env_int("VERIFY_MAX_ATTEMPTS", 8, minimum=2)


VERIFY_ACCEPT_WITHOUT_RELEVANCE = env_bool("VERIFY_ACCEPT_WITHOUT_RELEVANCE", False)
# Agents judging what they buy (bounties.services.review): each agent's rejection rate is over
# its last REVIEW_FAIR_USE_WINDOW decisions; when more than REVIEW_OVERTURN_THRESHOLD of its
# rejections there were overturned on appeal (and at least REVIEW_OVERTURN_MIN_COUNT), its
# submissions go to operators for REVIEW_COOLING_DAYS.
REVIEW_FAIR_USE_WINDOW = env_int("REVIEW_FAIR_USE_WINDOW", 50, minimum=1)
REVIEW_OVERTURN_THRESHOLD = env_float("REVIEW_OVERTURN_THRESHOLD", 0.2, minimum=0.0)
REVIEW_OVERTURN_MIN_COUNT = env_int("REVIEW_OVERTURN_MIN_COUNT", 3, minimum=1)
REVIEW_COOLING_DAYS = env_int("REVIEW_COOLING_DAYS", 7, minimum=0)
CELERY_BEAT_SCHEDULE["submissions-sweep"] = {
    "task": "bounties.tasks.submissions_sweep",
    "schedule": 60.0,
}
# Accepted submissions whose photo and receipt were never released (a lost task, a storage
# outage longer than the task's retries) are enqueued again; see `DELIVERY_STUCK_AFTER`.
CELERY_BEAT_SCHEDULE["deliveries-sweep"] = {
    "task": "bounties.tasks.deliveries_sweep",
    "schedule": 300.0,
}
CELERY_TASK_ROUTES["bounties.tasks.submission_verify"] = {"queue": "verify"}

# --- Website --------------------------------------------------------------------------------
# Sign-up and password-reset mail: printed to the console unless a real backend is configured;
# production refuses the backends that deliver nothing (the links would only reach the log).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
_EMAIL_BACKENDS_THAT_DELIVER_NOTHING = {
    f"django.core.mail.backends.{name}.EmailBackend"
    for name in ("console", "locmem", "dummy", "filebased")
}
if PRODUCTION and EMAIL_BACKEND in _EMAIL_BACKENDS_THAT_DELIVER_NOTHING:
    raise ImproperlyConfigured(
        "EMAIL_BACKEND must deliver mail in production (e.g. "
        "django.core.mail.backends.smtp.EmailBackend with EMAIL_HOST), not " + EMAIL_BACKEND
    )
EMAIL_HOST = env_str("EMAIL_HOST", "")
if PRODUCTION and EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend" and not EMAIL_HOST:
    raise ImproperlyConfigured("EMAIL_HOST (the SMTP relay) is required in production")
EMAIL_HOST = EMAIL_HOST or "localhost"
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "webmaster@localhost")
# The map's tile server ({z}/{x}/{y} template); empty hides the map, the list stays.
MAP_TILE_URL = env_str("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")

# --- Forecasting ----------------------------------------------------------------------------
CELERY_BEAT_SCHEDULE["forecasting-collect-evidence"] = {
    "task": "forecasting.tasks.collect_evidence",
    "schedule": 60.0,
}
# The question encoder (default: the packaged all-MiniLM-L6-v2) and where model versions live.
FORECAST_TEXT_ENCODER_DIR = env_str("FORECAST_TEXT_ENCODER_DIR", "")
FORECAST_MODEL_DIR = Path(env_str("FORECAST_MODEL_DIR", str(VAR_DIR / "models")))
# The training cycle: promote a challenger only when its held-out log loss beats the
# champion's by this margin; a small hyperparameter search within a compute budget.
FORECAST_PROMOTION_MARGIN = env_float("FORECAST_PROMOTION_MARGIN", 0.005, minimum=0.0)
# ... and does so in at least this share of paired bootstrap resamples of the held-out questions
# (a small held-out set can make a worse model look better by the luck of the draw).
FORECAST_PROMOTION_CONFIDENCE = env_float("FORECAST_PROMOTION_CONFIDENCE", 0.75, minimum=0.0)
FORECAST_SEARCH_TRIALS = env_int("FORECAST_SEARCH_TRIALS", 6, minimum=1)
FORECAST_SEARCH_BUDGET_SECONDS = env_int("FORECAST_SEARCH_BUDGET_SECONDS", 600, minimum=1)
FORECAST_MIN_QUESTIONS = env_int("FORECAST_MIN_QUESTIONS", 40, minimum=10)
FORECAST_HOLDOUT_FRACTION = env_float("FORECAST_HOLDOUT_FRACTION", 0.2, minimum=0.05)
FORECAST_MC_SAMPLES = env_int("FORECAST_MC_SAMPLES", 30, minimum=0)
# CPU threads for training: the model is small, and on this busy 2-core box one thread trained
# 20x faster than two fighting over the cores (10 epochs of 40 questions: 0.18 s vs 4.2 s).

FORECAST_TORCH_THREADS = env_int("FORECAST_TORCH_THREADS", 1, minimum=1)

# Training runs on its own queue and worker (Procfile: worker-training), one cycle at a time.
CELERY_TASK_ROUTES["forecasting.tasks.train_forecaster"] = {"queue": "training"}
CELERY_TASK_ROUTES["forecasting.tasks.refresh_forecasts"] = {"queue": "training"}
# Forecasts too: the champion's model (torch, the text encoder) loads in that worker only.
CELERY_TASK_ROUTES["forecasting.tasks.forecast_question"] = {"queue": "training"}

CELERY_BEAT_SCHEDULE["forecasting-train"] = {
    "task": "forecasting.tasks.train_forecaster",
    "schedule": float(env_int("FORECAST_TRAIN_EVERY_SECONDS", 24 * 3600, minimum=60)),
}

# Active acquisition (forecasting/acquisition.py): post evidence bounties while the chance of
# the forecast being wrong (at worst across its interval) times the stake is worth a bounty,
# within each question's budget; stop once that chance is at most CONFIDENCE.
FORECAST_ACQUISITION_CONFIDENCE = env_float("FORECAST_ACQUISITION_CONFIDENCE", 0.1, minimum=0.0)

CELERY_BEAT_SCHEDULE["forecasting-acquire-evidence"] = {
    "task": "forecasting.tasks.acquire_evidence",
    "schedule": float(env_int("FORECAST_ACQUISITION_EVERY_SECONDS", 300, minimum=10)),
}
