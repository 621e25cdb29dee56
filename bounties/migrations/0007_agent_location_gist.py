"""An agent's own nearest-first search (the agents' API) walks a GiST index on (agent, location)
of open bounties: the agent is an index condition (``btree_gist``) and the KNN ordering stops
after a page, whether the agent has a few open bounties or a million among everyone's. The
location-only index stays for searches over everyone's bounties (the website's Find page)."""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    "CREATE INDEX bounty_agent_open_location_gist ON bounties_bounty "
    "USING gist (agent_id, ll_to_earth(lat, lon)) WHERE status = 'open'",
]
BACKWARD = ["DROP INDEX IF EXISTS bounty_agent_open_location_gist"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("bounties", "0006_submission_embedding")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
