"""Clear stored capture times that cannot be true, so the submissions holding them get decided.

Before verification bounded EXIF times, a photo dated ``9999:12:31 23:59:59 -14:00`` was stored
as year 10000 (UTC). psycopg cannot read such a value into Python, so every read of the row
failed (API, worker's pages, admin) and verification stopped before it counted an attempt: the
submission stayed ``verifying`` and its slot's escrow stayed held. The repair runs in SQL, on the
raw column (the rows cannot be loaded), with the range `verification.image.capture_time_plausible`
defines; the sweeper then verifies those submissions again and decides them.

PostgreSQL only: elsewhere (SQLite for ``make run``) Django converts to UTC before writing, which
raised for such values, so none were stored.
"""

from typing import Any

from django.db import migrations

from verification.image import EARLIEST_PLAUSIBLE_CAPTURE, LATEST_PLAUSIBLE_AFTER_UPLOAD

REPAIR_SQL = """
    UPDATE bounties_submission SET captured_at = NULL
    WHERE captured_at < %s OR captured_at > received_at + %s
"""


def repair_capture_times(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(REPAIR_SQL, [EARLIEST_PLAUSIBLE_CAPTURE, LATEST_PLAUSIBLE_AFTER_UPLOAD])


class Migration(migrations.Migration):
    dependencies = [
        ("bounties", "0008_submission_verify_attempts"),
    ]

    operations = [
        migrations.RunPython(repair_capture_times, migrations.RunPython.noop, elidable=True),
    ]
