"""Files that belong to rows: deleted after the rows' deletion commits, never before.

A crash in between leaves files without rows, which retention's sweep finds, never rows pointing
at files that are gone. A model whose rows own files lists its file fields in FILE_FIELDS.
"""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.db.models.deletion import Collector

logger = logging.getLogger(__name__)


def file_names(rows: models.QuerySet) -> list[str]:
    """The stored names of every file the rows own."""
    fields = rows.model.FILE_FIELDS
    return [name for row in rows.values_list(*fields) for name in row if name]


def delete_after_commit(names: list[str], using: str = DEFAULT_DB_ALIAS) -> None:
    if names:
        transaction.on_commit(lambda: delete_files(names), using=using)


def delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError as exc:
            logger.warning("cannot delete %s: %s", name, exc)


def delete_with_files(rows: models.QuerySet) -> int:
    """Delete the rows, then their files once the deletion has committed."""
    names = file_names(rows)
    with transaction.atomic(using=rows.db):
        deleted, _ = rows.delete()
        delete_after_commit(names, using=rows.db)
    return deleted


def cascade_with_files(
    collector: Collector, field: models.Field, sub_objs: models.QuerySet, using: str
) -> None:
    """on_delete for rows that own files: they go with the row they point at (a camera), and
    their files after the commit."""
    names = file_names(sub_objs)  # read first: the collector defers the file fields
    models.CASCADE(collector, field, sub_objs, using)
    delete_after_commit(names, using=using)
