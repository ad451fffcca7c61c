"""The SQLite mutation log gets its rules back.

Migration 0002 rebuilt the ``mutation`` table on SQLite (SQLite alters a column by copying the
table), and the copy lost what 0001 had made: ``UNIQUE(device_id, mutation_id)`` (a mutation is
logged once per device, whatever happens to the push's own checks) and the indexes the push
reads by (a replay by device and mutation id, a stale edit's history by entity, record and
version) and the audit page by (user and time). Without them a replay and a history lookup scan
the whole log: ~100 ms each at a million rows. PostgreSQL altered its columns in place and kept
them all, so this does nothing there.

The names are those Tortoise gave them on PostgreSQL, so both databases describe the same schema
(``tests/integration/test_schema.py`` compares them). If the log already holds the same mutation
id twice for a device, the unique index cannot be made: the migration stops and says which,
rather than choose a row to delete.
"""

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

from sync.db import MigrationRefused

INDEXES = (
    'CREATE UNIQUE INDEX IF NOT EXISTS "uid_mutation_device__8db216" '
    'ON "mutation" ("device_id", "mutation_id")',
    'CREATE INDEX IF NOT EXISTS "idx_mutation_entity_fd24de" '
    'ON "mutation" ("entity", "record_id", "version")',
    'CREATE INDEX IF NOT EXISTS "idx_mutation_user_id_86238b" ON "mutation" ("user_id", "received_at")',
    'CREATE INDEX IF NOT EXISTS "idx_mutation_receive_9ff55f" ON "mutation" ("received_at")',
)


async def restore_log_indexes(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != "sqlite":
        return
    twice = await client.execute_query_dict(
        "SELECT device_id, mutation_id, COUNT(*) AS n FROM mutation "
        "GROUP BY device_id, mutation_id HAVING COUNT(*) > 1 ORDER BY device_id, mutation_id"
    )
    if twice:
        shown = ", ".join(
            f"device {r['device_id']} mutation {r['mutation_id']} ({r['n']} rows)"
            for r in twice[:5]
        )
        more = f" and {len(twice) - 5} more" if len(twice) > 5 else ""
        raise MigrationRefused(
            f"the mutation log holds {len(twice)} mutation id(s) more than once for the same "
            f"device ({shown}{more}), so UNIQUE(device_id, mutation_id) cannot be restored. "
            "Nothing was changed. Keep a backup, decide which row of each pair is the one the "
            "phone was answered with, delete the other, and run `peerlog migrate` again."
        )
    for statement in INDEXES:
        await client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [("models", "0008_poison")]

    initial = False

    operations = [ops.RunPython(restore_log_indexes)]
