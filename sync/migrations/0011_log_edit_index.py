"""The mutation log's history index leaves out creations (issue 11: push cost as the log grows).

A stale edit is merged through its record's history: the log rows of versions after its base
(``sync.push``, ``_load_history``), never a creation's row (a base is at least version 1). The
index that answered it, ``(entity, record_id, version)`` over every row, took one entry per
creation too: phones make random UUIDs, so each new record's entry landed on another page of
the index, and once the index had more leaves than a batch has mutations a push of 500 new
records rewrote ~500 of its pages (and synced them to disk on SQLite), growing with the log.

Now:

- a creation's log row is the only one whose ``changes`` is NULL (``sync.log.write_log``: an edit
  that changed nothing, a rejection and a conflict keep ``{}`` or their changes); rows written
  before are given ``{}`` here when they are not a creation: every row with no version or a
  version above 1, and a version-1 row that is not its record's first (its time is not the
  record's ``created_at``, which the push writes with the same instant as the log row);
- the partial index ``idx_mutation_record_edits`` on ``(record_id, version) WHERE NOT changes IS
  NULL`` holds the rows that are not creations (5 % of them in the benchmark) and answers the
  history read and the audit page's record filter (``server/admin/audit.py``), which finds a
  record's creation through the record's ``created_at`` and the ``received_at`` index;
- the full index goes.

The same on SQLite and PostgreSQL (``tests/integration/test_schema.py`` compares them).
Tortoise's model options cannot say ``IS NOT NULL``, so the partial index is made here by SQL,
as 0009 made the log's indexes on SQLite. Its condition is written ``NOT changes IS NULL``, as
Tortoise writes ``changes__isnull=False``: SQLite uses a partial index only for a query that
holds its condition in the same form (``changes IS NOT NULL`` would not do), and the push's
history read writes it so too. PostgreSQL reads both forms as one.
"""

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEX = (
    'CREATE INDEX IF NOT EXISTS "idx_mutation_record_edits" '
    'ON "mutation" ("record_id", "version") WHERE NOT "changes" IS NULL'
)

# Entity → table of the synced records with UUID ids, as of migration 0010 (a later entity's
# table does not exist yet when this runs on an empty database).
TABLES = {
    "participant": "participant",
    "contact": "contact",
    "group_meeting": "group_meeting",
    "group": "peer_group",
    "measurement": "measurement",
    "assessment": "assessment",
    "group_activity": "group_activity",
    "supervision": "supervision",
    "training": "training",
    "implementation_rating": "implementation_rating",
}


async def mark_non_creations(apps: Any, schema_editor: Any) -> None:
    """``changes = {}`` on the rows written before that are not a creation (see above)."""
    client = schema_editor.client
    await client.execute_script(
        "UPDATE mutation SET changes = '{}' "
        "WHERE changes IS NULL AND (version IS NULL OR version <> 1)"
    )
    for entity, table in TABLES.items():
        await client.execute_script(
            "UPDATE mutation SET changes = '{}' "
            f"WHERE changes IS NULL AND version = 1 AND entity = '{entity}' AND NOT EXISTS "
            f"(SELECT 1 FROM {table} t WHERE t.id = mutation.record_id "
            "AND t.created_at = mutation.received_at)"
        )


async def create_index(apps: Any, schema_editor: Any) -> None:
    await schema_editor.client.execute_script(INDEX)


class Migration(migrations.Migration):
    dependencies = [("models", "0010_evaluation_records")]

    initial = False

    operations = [
        ops.RunPython(mark_non_creations),
        ops.RunPython(create_index),
        ops.RemoveIndex(model_name="Mutation", fields=["entity", "record_id", "version"]),
    ]
