"""The project's ledger, as every writer opens it: the DynamoDB table named by
``KILN_LEDGER_TABLE`` or the file in the repository, each with the anchors its head is
checkpointed to (docs/ledger.md). Entries are signed with ``KILN_LEDGER_KEY`` (default: the
release signing key) on the first append."""

from __future__ import annotations

from pathlib import Path

from kiln.aws.ledger_anchor import S3Anchor, TableAnchor
from kiln.aws.ledger_table import TableLedger
from kiln.project import layout
from kiln.project.ledger_anchor import FileAnchor
from kiln.release.ledger import FileLedger, Ledger
from kiln.release.ledger_trust import Anchor


def _anchors(*local: Anchor) -> list[Anchor]:
    bucket = layout.ledger_anchor_bucket()
    return [*local, *([S3Anchor(bucket)] if bucket else [])]


def open_ledger(root: Path) -> Ledger:
    """The ledger of the project at ``root``."""
    table = layout.ledger_table()
    if table:
        return TableLedger(table, anchors=_anchors(TableAnchor(layout.ledger_anchor_table()
                                                               or table)))
    return FileLedger(layout.ledger_path(root),
                      anchors=_anchors(FileAnchor(layout.ledger_anchor_path(root))))
