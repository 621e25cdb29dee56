"""The embedded default as `make run` uses it: SQLite in a file, tasks in-process, no broker, no
keys, DJANGO_ENV=development. The main suite (tests/) refuses SQLite; this smoke set runs only
on it, so each vendor branch has a test on the database that takes it.

    DJANGO_ENV=development DATABASE_URL=sqlite:////tmp/smoke.sqlite3 CELERY_BROKER_URL= \\
        .venv/bin/pytest tests_sqlite

(`make test` runs it after the main suite, on a fresh file.)
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command


def pytest_configure(config: pytest.Config) -> None:
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine != "django.db.backends.sqlite3" or settings.CELERY_TASK_ALWAYS_EAGER is not True:
        raise pytest.UsageError(
            f"tests_sqlite runs on the embedded default only (DATABASE_URL gives {engine}, "
            f"tasks eager: {settings.CELERY_TASK_ALWAYS_EAGER}). Run it as `make test` does: "
            "DATABASE_URL=sqlite:////tmp/smoke.sqlite3 CELERY_BROKER_URL= pytest tests_sqlite"
        )


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker: Any) -> None:
    """Migrate the database DATABASE_URL names, as `make run` does (no test copy: the ledger's
    SQLite triggers come from the same migration a developer runs)."""
    with django_db_blocker.unblock():
        call_command("migrate", "--noinput", verbosity=0)


@pytest.fixture(autouse=True)
def _isolated(settings: Any, tmp_path: Path) -> Iterator[None]:
    """Uploads and deliveries go to a temporary MEDIA_ROOT; no throttle or lockout carries over."""
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    yield
