"""Nearest-first search over open bounties uses a GiST index (PostgreSQL's cube and
earthdistance contrib extensions): KNN ordering by ``<->`` and an ``earth_box`` range filter, so
a search costs an index walk, not a scan of every open bounty. SQLite (development) scans."""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS cube",
    "CREATE EXTENSION IF NOT EXISTS earthdistance",
    "CREATE INDEX bounty_open_location_gist ON bounties_bounty "
    "USING gist (ll_to_earth(lat, lon)) WHERE status = 'open'",
]
BACKWARD = ["DROP INDEX IF EXISTS bounty_open_location_gist"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("bounties", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
