"""Production refuses what would quietly break it: mail that goes only to the log, throttles
counted per process, a malformed proxy list."""

from tests.helpers import PRODUCTION_ENV, manage

PRINT_SETTINGS = (
    "from django.conf import settings; "
    "print(settings.CACHES['default']['BACKEND'], settings.CACHES['default']['LOCATION'])"
)


def without(*names: str) -> dict[str, str]:
    return {name: value for name, value in PRODUCTION_ENV.items() if name not in names}


def test_production_refuses_email_backends_that_deliver_nothing() -> None:
    for backend in ("console", "locmem", "dummy", "filebased"):
        env = {
            **PRODUCTION_ENV,
            "EMAIL_BACKEND": f"django.core.mail.backends.{backend}.EmailBackend",
        }
        result = manage("check", env=env)
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr and "EMAIL_BACKEND" in result.stderr
    result = manage("check", env=without("EMAIL_BACKEND"))  # the default is the console's
    assert result.returncode != 0 and "EMAIL_BACKEND must deliver mail" in result.stderr
    result = manage("check", env=without("EMAIL_HOST"))  # SMTP needs a relay
    assert result.returncode != 0 and "EMAIL_HOST" in result.stderr


def test_production_refuses_a_per_process_cache() -> None:
    for url in ("locmemcache://", "dummycache://", "filecache:///tmp/cache"):
        result = manage("check", env={**PRODUCTION_ENV, "CACHE_URL": url})
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr and "shared cache" in result.stderr


def test_production_caches_beside_a_redis_broker_when_no_cache_url_is_set() -> None:
    result = manage("shell", "-c", PRINT_SETTINGS, env=without("CACHE_URL"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == [
        "django.core.cache.backends.redis.RedisCache",
        "redis://127.0.0.1:6379/1",  # the broker's server, the next database
    ]
    amqp = {**without("CACHE_URL"), "CELERY_BROKER_URL": "amqp://guest@127.0.0.1//"}
    result = manage("check", env=amqp)
    assert result.returncode != 0 and "CACHE_URL is required" in result.stderr


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    result = manage("check", env={**PRODUCTION_ENV, "TRUSTED_PROXIES": "10.0.0.0/8,the-lb"})
    assert result.returncode != 0
    assert "TRUSTED_PROXIES" in result.stderr and "the-lb" in result.stderr
