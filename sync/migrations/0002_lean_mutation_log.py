"""The mutation log gets lighter to write (BENCHMARKS.md, "Sync engine").

- ``changes`` is null for a creation (its values are the record's at version 1) and ``result``
  is null when the answer is only the row's columns: two JSON documents fewer per pushed contact.
- No foreign-key constraints from the log to ``device`` and ``users`` on PostgreSQL: the push
  writes ids it has just read and locked, and users and devices are never deleted (switched off
  and revoked instead). SQLite keeps them: its checks are cheap, and dropping them there means
  rebuilding the table.
"""

import functools
from json import dumps, loads
from typing import Any

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


async def drop_log_foreign_keys(apps: Any, schema_editor: Any) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(
            "ALTER TABLE mutation DROP CONSTRAINT IF EXISTS mutation_device_id_fkey, "
            "DROP CONSTRAINT IF EXISTS mutation_user_id_fkey"
        )


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    initial = False

    operations = [
        ops.AlterField(
            model_name="Mutation",
            name="changes",
            field=fields.JSONField(
                null=True, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
            ),
        ),
        ops.AlterField(
            model_name="Mutation",
            name="device",
            field=fields.ForeignKeyField(
                "models.Device",
                source_field="device_id",
                db_constraint=False,
                to_field="id",
                related_name="mutations",
                on_delete=OnDelete.RESTRICT,
            ),
        ),
        ops.AlterField(
            model_name="Mutation",
            name="result",
            field=fields.JSONField(
                null=True, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
            ),
        ),
        ops.AlterField(
            model_name="Mutation",
            name="user",
            field=fields.ForeignKeyField(
                "models.User",
                source_field="user_id",
                db_constraint=False,
                to_field="id",
                related_name="mutations",
                on_delete=OnDelete.RESTRICT,
            ),
        ),
        ops.RunPython(drop_log_foreign_keys),
    ]
