"""Production settings: `check --deploy` is clean, and missing essentials refuse to start."""

from tests.helpers import PRODUCTION_ENV, manage


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
