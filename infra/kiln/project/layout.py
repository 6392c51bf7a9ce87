"""Where the project is, and where kiln keeps its files in it. Standard library only: the
entry point uses it before anything else is imported (:mod:`kiln.cli.launch`).

- ledger: ``ledger/kiln.jsonl`` (file backend), unless ``KILN_LEDGER_TABLE`` names a
  DynamoDB table; its head anchored in ``.kiln/ledger-head.json`` and, with a table, in
  ``KILN_LEDGER_ANCHOR_TABLE`` (default: the ledger's table), and in the S3 Object Lock
  bucket ``KILN_LEDGER_ANCHOR_BUCKET`` when set; entries signed with
  ``KILN_LEDGER_KEY`` (default: the signing key);
- artifact records: ``releases/<name>/<digest hex>.json``;
- signing key: ``KILN_SIGNING_KEY`` — a path to an Ed25519 PEM file, or ``kms:<key id or
  ARN>`` for an AWS KMS ECDSA_SHA_256 key; default ``~/.config/kiln/release.pem``.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_FILE = "Pulumi.yaml"


def project_root(start: str | None = None) -> str | None:
    """``KILN_PROJECT_DIR`` when set, else the nearest directory at or above ``start``
    (default: the working directory) holding Pulumi.yaml; None when there is none."""
    env = os.environ.get("KILN_PROJECT_DIR")
    if env:
        return os.path.realpath(env)
    here = os.path.realpath(start or os.getcwd())
    while not os.path.isfile(os.path.join(here, PROJECT_FILE)):
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent
    return here


def top_level_value(path: str | os.PathLike[str], key: str) -> str | None:
    """A plain top-level ``key: value`` of a small YAML file, read line by line (quotes and
    a trailing comment removed); None when the file or the key is missing. For values read
    before, or without, a YAML parser: a project's name, a pack's version."""
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(f"{key}:"):
                    return line[len(key) + 1:].split(" #")[0].strip().strip("'\"") or None
    except (OSError, UnicodeDecodeError):
        return None
    return None


LEDGER_FILE = Path("ledger") / "kiln.jsonl"
RELEASES_DIR = Path("releases")
DEFAULT_KEY = Path("~/.config/kiln/release.pem")
# The policy pack, its per-environment config and its waivers.
PACK_DIR = Path("policies") / "immutable"
PACK_CONFIG_DIR = PACK_DIR / "config"
WAIVERS_FILE = PACK_DIR / "waivers.yaml"


def ledger_path(root: Path) -> Path:
    return root / LEDGER_FILE


def ledger_table() -> str | None:
    return os.environ.get("KILN_LEDGER_TABLE") or None


def releases_dir(root: Path) -> Path:
    return root / RELEASES_DIR


def record_path(root: Path, name: str, digest: str) -> Path:
    return releases_dir(root) / name / f"{digest.removeprefix('sha256:')}.json"


def signing_key() -> str:
    return os.environ.get("KILN_SIGNING_KEY") or str(DEFAULT_KEY.expanduser())


# The ledger's anchors: a local checkpoint file (outside git; see kiln.project.ledger_anchor)
# and, with the DynamoDB backend, a checkpoint item in KILN_LEDGER_ANCHOR_TABLE (default: the
# ledger's own table).
LEDGER_ANCHOR_FILE = Path(".kiln") / "ledger-head.json"


def ledger_anchor_path(root: Path) -> Path:
    return root / LEDGER_ANCHOR_FILE


def ledger_anchor_table() -> str | None:
    return os.environ.get("KILN_LEDGER_ANCHOR_TABLE") or ledger_table()


def ledger_anchor_bucket() -> str | None:
    """An S3 bucket with Object Lock in compliance mode keeping every checkpoint."""
    return os.environ.get("KILN_LEDGER_ANCHOR_BUCKET") or None
