"""PaletteAI Admin settings, all read from the environment.

Small helpers (`envstr`, `envbool`, `envint`, `envnetworks`, each also reading `NAME_FILE`) raise
`ImproperlyConfigured` naming the variable when a value is bad. Embedded defaults (SQLite, a
filesystem Celery broker, generated keys in a git-ignored file) let `make run` work with no server;
`DATABASE_URL` and `REDIS_URL` switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import stat
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from palette import ratelimit as _palette_limits

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    """Return NAME from the environment, or the content of the file named by NAME_FILE."""
    if name in os.environ:
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE={path}: cannot read the file ({exc.strerror})."
            ) from None
    return None


def envstr(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None else value


def envbool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    low = value.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use true or false.")


def envint(name: str, default: int, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is too small: the minimum is {minimum}.")
    return number


def envnetworks(name: str) -> list[str]:
    """Comma-separated networks in CIDR notation (a bare address is that address alone), normalised."""
    networks: list[str] = []
    for item in filter(None, (part.strip() for part in (_raw(name) or "").split(","))):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=True)))
        except ValueError:
            try:
                meant = f": write {ipaddress.ip_network(item, strict=False)}"
            except ValueError:
                meant = ""
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not a network in CIDR notation{meant} (e.g. 10.0.0.0/8,fd00::/8)."
            ) from None
    return networks


def sqlite_database(name) -> dict:
    """The embedded SQLite database, set up for the web server and the workers writing at once.

    WAL: readers never block the writer nor it them. A busy timeout: a writer waits up to 20 s for the one
    before it instead of failing at once. IMMEDIATE transactions: a transaction takes the write lock when it
    begins, so two never deadlock upgrading from a read (SQLite answers that with "database is locked" at
    once, whatever the timeout). synchronous=NORMAL is durable with WAL except for the last commits on a
    power loss. Transactions are kept short, since every one holds the lock for its whole length.
    """
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": name,
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        },
    }


def database_from_url(url: str) -> dict:
    """Translate DATABASE_URL (postgres://user:pass@host:port/name or sqlite:///path) into Django's form."""
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql", "pgsql"):
        if not parts.path.strip("/"):
            raise ImproperlyConfigured(
                "DATABASE_URL has no database name: use postgres://user:pass@host:5432/NAME."
            )
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("DATABASE_URL has a port that is not a number.") from None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            "OPTIONS": options,
            "CONN_MAX_AGE": envint("DATABASE_CONN_MAX_AGE", 60, minimum=0),
            "CONN_HEALTH_CHECKS": True,
        }
    if parts.scheme == "sqlite":
        return sqlite_database(unquote(parts.path) or str(DATA_DIR / "db.sqlite3"))
    raise ImproperlyConfigured(
        f"DATABASE_URL has scheme {parts.scheme!r}: use postgres://user:pass@host:5432/name or sqlite:///path."
    )


def _tighten(path: Path, mode: int) -> None:
    """Drop permission bits beyond `mode` from `path` when this user owns it (someone else's folder is theirs
    to set)."""
    try:
        st = path.stat()
        if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) & ~mode:
            path.chmod(stat.S_IMODE(st.st_mode) & mode)
    except OSError:
        pass  # a read-only filesystem: nothing is written there either


def private_dir(path: Path) -> Path:
    """`path` as a folder only this user can open (0700): created so, or tightened when it exists."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """`path` as a file only this user can read (0600): created empty so, or tightened when it exists."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    _tighten(path, 0o600)
    return path


def _local_secrets(path: Path) -> dict:
    """Generated keys kept in a git-ignored file, so a first `make run` needs no configuration."""
    if path.exists():
        _tighten(path, 0o600)
        return json.loads(path.read_text())
    from cryptography.fernet import Fernet

    data = {"SECRET_KEY": secrets.token_urlsafe(50), "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode()}
    private_file(path).write_text(json.dumps(data))
    return data


# DATA_DIR holds what must stay private: the SQLite database (sessions, password hashes), generated
# keys, broker messages. Its folders are 0700 and the database 0600, and an existing one is tightened.
DATA_DIR = private_dir(Path(envstr("DATA_DIR", str(BASE_DIR / ".local"))))
DEBUG = envbool("DEBUG", False)
SECURE = envbool("SECURE", False)

_generated: dict | None = None
if not _raw("SECRET_KEY") or not _raw("FIELD_ENCRYPTION_KEY"):
    _generated = _local_secrets(DATA_DIR / "secrets.json")
SECRET_KEY = envstr("SECRET_KEY") or _generated["SECRET_KEY"]
# Comma-separated Fernet keys: the first encrypts, all decrypt (rotation with MultiFernet).
FIELD_ENCRYPTION_KEYS = [
    k.strip()
    for k in (envstr("FIELD_ENCRYPTION_KEY") or _generated["FIELD_ENCRYPTION_KEY"]).split(",")
    if k.strip()
]
try:
    from cryptography.fernet import Fernet as _Fernet

    for _key in FIELD_ENCRYPTION_KEYS:
        _Fernet(_key)
except (ValueError, TypeError):
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEY is not a valid Fernet key: generate one with "
        "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'."
    ) from None

ALLOWED_HOSTS = [
    h.strip() for h in envstr("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in envstr("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]
# Uploaded files (a CA certificate) are kept up to this size and dropped beyond it, never stored whole
# (core.uploads).
MAX_UPLOAD_BYTES = 1024 * 1024
FILE_UPLOAD_HANDLERS = ["core.uploads.BoundedUploadHandler"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "axes",
    "core",
    "tenancy",
    "integrations",
    "compute",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tenancy.oidc_session.OidcSessionMiddleware",
    "core.middleware.SecurityHeadersMiddleware",
    "core.palette_budget.BudgetMiddleware",
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

ROOT_URLCONF = "paletteai_admin.urls"
WSGI_APPLICATION = "paletteai_admin.wsgi.application"
ASGI_APPLICATION = "paletteai_admin.asgi.application"

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
                "tenancy.context_processors.navigation",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

DATABASE_URL = envstr("DATABASE_URL", "")
DATABASES = {
    "default": database_from_url(DATABASE_URL) if DATABASE_URL else sqlite_database(DATA_DIR / "db.sqlite3")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# SQLite would create its file with the umask's mode (world-readable): create it 0600 first. Its journal
# and WAL files take the database file's mode.
_sqlite = str(DATABASES["default"]["NAME"]) if DATABASES["default"]["ENGINE"].endswith("sqlite3") else ""
if _sqlite not in ("", ":memory:") and not _sqlite.startswith("file:") and Path(_sqlite).parent.is_dir():
    private_file(Path(_sqlite))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tenancy:home"
LOGOUT_REDIRECT_URL = "login"

# Single sign-on with OpenID Connect (README "Single sign-on", tenancy/oidc.py): on when OIDC_ISSUER and
# OIDC_CLIENT_ID are set. LOCAL_LOGIN=false leaves local passwords to superusers only (break-glass).
OIDC_ISSUER = envstr("OIDC_ISSUER", "").strip().rstrip("/")
OIDC_CLIENT_ID = envstr("OIDC_CLIENT_ID", "").strip()
OIDC_CLIENT_SECRET = envstr("OIDC_CLIENT_SECRET", "").strip()
OIDC_GROUPS_CLAIM = envstr("OIDC_GROUPS_CLAIM", "groups").strip() or "groups"
OIDC_SCOPES = " ".join(envstr("OIDC_SCOPES", "openid email profile").replace(",", " ").split())
OIDC_PROVIDER_NAME = envstr("OIDC_PROVIDER_NAME", "single sign-on").strip() or "single sign-on"
OIDC_REDIRECT_URI = envstr("OIDC_REDIRECT_URI", "").strip()  # default: this server's /oidc/callback/
OIDC_TIMEOUT = envint("OIDC_TIMEOUT", 10, minimum=1)
# Groups are read again from the provider (refresh token) when a session's last read is older than this
# many seconds, so a group removed at the provider takes its roles away within that time.
OIDC_REFRESH_INTERVAL = envint("OIDC_REFRESH_INTERVAL", 900, minimum=1)
LOCAL_LOGIN = envbool("LOCAL_LOGIN", True)
if OIDC_ISSUER and urlsplit(OIDC_ISSUER).scheme not in ("https", "http"):
    raise ImproperlyConfigured(f"OIDC_ISSUER={OIDC_ISSUER!r}: use the provider's https:// issuer URL.")
if OIDC_ISSUER and "openid" not in OIDC_SCOPES.split():
    raise ImproperlyConfigured(f"OIDC_SCOPES={OIDC_SCOPES!r} must include openid.")

# Login throttling (django-axes): lock out a username+IP after repeated failures.
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = envint("LOGIN_COOLOFF_MINUTES", 15, minimum=1) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLED = envbool("LOGIN_THROTTLING", True)
# Behind N reverse proxies (an ingress is 1), the client address is read from X-Forwarded-For:
# otherwise throttling would count every user's failures against the ingress's address.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0, minimum=0)
AXES_CLIENT_IP_CALLABLE = "core.audit.client_ip"

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
# Front-end packages are installed from npm by `make` and served from here by whitenoise: no CDN,
# because self-hosted Palette sites are often air-gapped.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/pico", BASE_DIR / "node_modules/@picocss/pico/css"),
    ("vendor/chartjs", BASE_DIR / "node_modules/chart.js/dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Security headers; SECURE=true when served over HTTPS.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_HSTS_SECONDS = 31536000 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
if envbool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)

# Background work. Redis when REDIS_URL is set; otherwise Celery's filesystem transport under DATA_DIR.
REDIS_URL = envstr("REDIS_URL", "")
if REDIS_URL and os.environ.get("PYTEST_XDIST_WORKER", "").startswith("gw"):
    # Parallel test processes share one Redis server: give each its own database so one
    # process's Celery worker never takes another's tasks.
    REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/" + str(1 + int(os.environ["PYTEST_XDIST_WORKER"][2:]))
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)
    }
else:
    _queue = private_dir(DATA_DIR / "broker")
    CELERY_BROKER_URL = "filesystem://"
    for _folder in ("queue", "processed", "control"):
        private_dir(_queue / _folder)  # the transport does not create them
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue / "queue"),
        "data_folder_out": str(_queue / "queue"),
        "processed_folder": str(_queue / "processed"),
        "control_folder": str(_queue / "control"),  # else kombu writes ./control in the working directory
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# Palette's rate limits (core.palette_budget): empty = Palette's published limits per endpoint family;
# a number = requests per second for every family (0: no pacing); or "/v1/dashboard=20,/v1/edgehosts=20,*=10".
PALETTE_RATE_LIMIT = envstr("PALETTE_RATE_LIMIT", "")
try:
    _palette_limits.parse_limits(PALETTE_RATE_LIMIT)
except ValueError as _exc:
    raise ImproperlyConfigured(f"PALETTE_RATE_LIMIT: {_exc}") from None
# How long one Palette request may wait for its slot inside a web request / a database transaction (seconds);
# longer, it is not sent and the user reads "Palette is busy, try again in N s".
PALETTE_WAIT_IN_REQUEST = envint("PALETTE_WAIT_IN_REQUEST", 5, minimum=0)
PALETTE_WAIT_IN_TRANSACTION = envint("PALETTE_WAIT_IN_TRANSACTION", 2, minimum=0)
# /metrics for Prometheus (core.metrics): off (404) unless set; then "Authorization: Bearer <token>".
METRICS_TOKEN = envstr("METRICS_TOKEN", "")

# Palette integration policy.
ALLOW_INSECURE_PALETTE_TLS = envbool("ALLOW_INSECURE_PALETTE_TLS", True)  # set false in production
ALLOW_HTTP_PALETTE = envbool("ALLOW_HTTP_PALETTE", False)  # plain http:// Palette URLs, labs only
# Networks a Palette host may be in besides public addresses (an on-premises Palette). Empty: public only;
# loopback, link-local and private addresses are refused, metadata addresses always (palette/addresses.py).
PALETTE_ALLOWED_NETWORKS = envnetworks("PALETTE_ALLOWED_NETWORKS")
# Notification rules (README "Notifications"): webhook and Slack targets must be public addresses or inside
# NOTIFY_ALLOWED_NETWORKS (its own setting: allowing a private Palette does not open internal services to
# webhooks); each request waits at most NOTIFY_TIMEOUT s; failures are retried with backoff from
# NOTIFY_RETRY_BASE s up to NOTIFY_RETRY_CAP s between tries, for NOTIFY_GIVE_UP_AFTER s after the event.
NOTIFY_ALLOWED_NETWORKS = envnetworks("NOTIFY_ALLOWED_NETWORKS")
NOTIFY_TIMEOUT = envint("NOTIFY_TIMEOUT", 10, minimum=1)
NOTIFY_RETRY_BASE = envint("NOTIFY_RETRY_BASE", 30, minimum=1)
NOTIFY_RETRY_CAP = envint("NOTIFY_RETRY_CAP", 3600, minimum=1)
NOTIFY_GIVE_UP_AFTER = envint("NOTIFY_GIVE_UP_AFTER", 24 * 60 * 60, minimum=60)
# Email notifications go through Django's email backend: SMTP at EMAIL_HOST:EMAIL_PORT by default.
EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "paletteai-admin@localhost")
INTEGRATION_ONLINE_CHECKS = envbool(
    "INTEGRATION_ONLINE_CHECKS", False
)  # Hugging Face / NGC checks over the network
HUGGINGFACE_ENDPOINT = envstr("HUGGINGFACE_ENDPOINT", "https://huggingface.co")
NGC_AUTH_URL = envstr("NGC_AUTH_URL", "https://authn.nvidia.com/token")
PALETTE_CONNECT_TIMEOUT = envint("PALETTE_CONNECT_TIMEOUT", 5, minimum=1)
PALETTE_READ_TIMEOUT = envint("PALETTE_READ_TIMEOUT", 30, minimum=1)
PALETTE_CHECK_INTERVAL = envint("PALETTE_CHECK_INTERVAL", 300, minimum=30)
DISCOVERY_INTERVAL = envint("DISCOVERY_INTERVAL", 30, minimum=5)
# A host discovery has not seen for this many seconds shows health "unknown" (compute.liveness.liveness).
HOST_UNKNOWN_AFTER = envint("HOST_UNKNOWN_AFTER", 600, minimum=60)
# Compute pools (seconds): give up provisioning after POOL_PROVISION_TIMEOUT; poll Palette every
# POOL_POLL_INTERVAL; offer force delete once a deletion waits POOL_FORCE_DELETE_AFTER; retry transient
# errors from POOL_RETRY_BASE up to POOL_RETRY_CAP; a step may run POOL_STEP_BUDGET, and the watchdog
# re-sends a step overdue by POOL_RESUME_GRACE (a killed worker); wait POOL_RELEASE_WAIT for hosts to return.
POOL_PROVISION_TIMEOUT = envint("POOL_PROVISION_TIMEOUT", 3600, minimum=1)
POOL_POLL_INTERVAL = envint("POOL_POLL_INTERVAL", 10, minimum=1)
# Palette accepts a force delete only after 15 minutes in Deleting (its "Force Delete a Cluster" docs): a
# lower value would offer what Palette refuses, so it is refused at start-up.
POOL_FORCE_DELETE_AFTER = envint("POOL_FORCE_DELETE_AFTER", 900, minimum=900)
POOL_RETRY_BASE = envint("POOL_RETRY_BASE", 5, minimum=1)
POOL_RETRY_CAP = envint("POOL_RETRY_CAP", 300, minimum=1)
POOL_STEP_BUDGET = envint("POOL_STEP_BUDGET", 300, minimum=1)
POOL_RESUME_GRACE = envint("POOL_RESUME_GRACE", 60, minimum=1)
POOL_RELEASE_WAIT = envint("POOL_RELEASE_WAIT", 120, minimum=0)
# Run watchdog (seconds, core.watchdog): re-send a run still pending after RUN_RESEND_AFTER (its message
# was lost, e.g. Redis restarted); fail it when pending RUN_PENDING_TIMEOUT, or running RUN_RUNNING_TIMEOUT
# (its worker died), so a lost message never blocks a project's discovery, profile sync or check for good.
RUN_RESEND_AFTER = envint("RUN_RESEND_AFTER", 300, minimum=1)
RUN_PENDING_TIMEOUT = envint("RUN_PENDING_TIMEOUT", 3600, minimum=1)
RUN_RUNNING_TIMEOUT = envint("RUN_RUNNING_TIMEOUT", 1800, minimum=1)
# Retention (days; 0 keeps for ever): the daily prune (core.retention, manage.py prune) deletes finished runs
# and history older than this, but never an active run nor the newest run of a target in each state.
RETENTION_DISCOVERY_RUNS_DAYS = envint("RETENTION_DISCOVERY_RUNS_DAYS", 30, minimum=0)
RETENTION_CONNECTION_CHECKS_DAYS = envint("RETENTION_CONNECTION_CHECKS_DAYS", 30, minimum=0)
RETENTION_PROFILE_SYNCS_DAYS = envint("RETENTION_PROFILE_SYNCS_DAYS", 30, minimum=0)
RETENTION_TAG_EDITS_DAYS = envint("RETENTION_TAG_EDITS_DAYS", 30, minimum=0)
RETENTION_HOST_HISTORY_DAYS = envint("RETENTION_HOST_HISTORY_DAYS", 90, minimum=0)
RETENTION_AUDIT_DAYS = envint("RETENTION_AUDIT_DAYS", 365, minimum=0)
# The notifications' delivery log; one still pending or being sent stays (README "Notifications").
RETENTION_NOTIFICATIONS_DAYS = envint("RETENTION_NOTIFICATIONS_DAYS", 30, minimum=0)

# What beat sends, and how often (seconds).
CELERY_BEAT_SCHEDULE = {
    name: {"task": task, "schedule": schedule}
    for name, task, schedule in (
        ("worker-heartbeat", "core.heartbeat", envint("HEARTBEAT_INTERVAL", 60, minimum=5)),
        # Re-syncs Kubernetes Secrets whose sync failed or never ran; a no-op while sync is off.
        ("kube-resync-secrets", "integrations.resync_secrets", 60),
        ("discovery", "compute.scheduled_discovery", DISCOVERY_INTERVAL),
        ("palette-checks", "integrations.scheduled_palette_checks", PALETTE_CHECK_INTERVAL),
        ("pool-watchdog", "compute.pool_watchdog", envint("POOL_WATCHDOG_INTERVAL", 60, minimum=5)),
        ("run-watchdog", "core.run_watchdog", envint("RUN_WATCHDOG_INTERVAL", 60, minimum=1)),
        ("prune", "core.prune", 24 * 60 * 60),
        ("notification-sweep", "notifications.sweep", envint("NOTIFY_SWEEP_INTERVAL", 60, minimum=5)),
        # API key and certificate expiry (credentials.expiring, certificate.expiring), also while Palette is
        # unreachable, from what the last connection checks read.
        ("expiry-radar", "integrations.expiry_radar", 24 * 60 * 60),
    )
}

# Kubernetes Secret sync: KUBERNETES_API_URL (plain URL, e.g. a proxy), KUBECONFIG, or in-cluster
# service account; off when none is configured.
KUBERNETES_API_URL = envstr("KUBERNETES_API_URL", "")
KUBECONFIG = envstr("KUBECONFIG", "")
KUBERNETES_IN_CLUSTER = envbool("KUBERNETES_IN_CLUSTER", bool(os.environ.get("KUBERNETES_SERVICE_HOST")))

SYSTEM_DEFAULT_RESOURCES = envbool("SYSTEM_DEFAULT_RESOURCES", True)
ADMIN_USERNAME = envstr("ADMIN_USERNAME", "admin")
ADMIN_PASSWORD = envstr("ADMIN_PASSWORD", "")

LOG_LEVEL = envstr("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r}: use DEBUG, INFO, WARNING, ERROR or CRITICAL.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # django.template logs every failed variable lookup at DEBUG with a repr of the whole template
    # context: noise, and a way for a value on the page's objects to reach the log.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "django.template": {"level": "INFO"},
    },
}
