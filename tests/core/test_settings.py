"""Production settings: `check --deploy` is clean, and missing essentials refuse to start."""

import os
import subprocess
import sys

from tests.conftest import ROOT

PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "p" * 20 + "roduction-secret-key-that-is-long-and-random-0123456789",
    "ALLOWED_HOSTS": "sightline.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/sightline",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "STRIPE_SECRET_KEY": "sk_live_fake_key_for_the_settings_test",
    "STRIPE_WEBHOOK_SECRET": "whsec_fake_secret_for_the_settings_test",
    "RECEIPT_SIGNING_KEY": "bm90LWEtcmVhbC1rZXktanVzdC0zMi1ieXRlcy1sb24=",
    "CACHE_URL": "redis://127.0.0.1:6379/1",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "smtp.example.com",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and k != "DEBUG"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_under_production_settings() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_its_essentials() -> None:
    for missing, message in [
        ("SECRET_KEY", "SECRET_KEY"),
        ("ALLOWED_HOSTS", "ALLOWED_HOSTS"),
        ("CELERY_BROKER_URL", "CELERY_BROKER_URL"),
        ("DATABASE_URL", "DATABASE_URL"),
    ]:
        env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
        result = manage("check", env=env)
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_bad_values_are_refused_with_the_variable_named() -> None:
    for name, value in [
        ("DEBUG", "maybe"),
        ("DJANGO_ENV", "staging"),
        ("CELERY_TASK_TIME_LIMIT", "x"),
    ]:
        result = manage("check", env={name: value})
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr and name in result.stderr
    result = manage("check", env={**PRODUCTION_ENV, "SECRET_KEY": "short"})
    assert "SECRET_KEY must be at least 50" in result.stderr


def test_seed_demo_refuses_to_run_in_production() -> None:
    result = manage("seed_demo", env=PRODUCTION_ENV)
    assert result.returncode != 0 and "seed_demo is for development" in result.stderr
