"""The ledger's local anchor and its trusted keys: files of the project.

The file anchor (``.kiln/ledger-head.json``) keeps the newest signed checkpoint of the
ledger's head on this machine, outside the ledger file and outside git: a ledger pulled or
edited into a shorter or different history disagrees with it. It only moves forward.

Trusted ledger keys are the project config ``kiln:ledgerKeys`` in Pulumi.yaml, the shape of
``kiln:trustedKeys`` (``[{id, type, publicKey}]``): review protects them.
"""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

from kiln.model.fields import key
from kiln.model.sections import parse_trusted_keys
from kiln.project.files import atomic_write
from kiln.project.stackfiles import Project
from kiln.release.chain import LedgerError
from kiln.release.ledger_trust import Checkpoint, moves_forward, parse_checkpoint
from kiln.release.record import canonical
from kiln.release.signing import PublicKey

LEDGER_KEYS = key("ledgerKeys")


class FileAnchor:
    """The newest checkpoint in a local JSON file, replaced atomically, never moved back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file {path}"

    def read(self) -> Checkpoint | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise LedgerError(f"anchor {self.name}: cannot read ({error.strerror})") from None
        try:
            raw = json.loads(data)
        except ValueError:
            raise LedgerError(f"anchor {self.name}: not JSON") from None
        return parse_checkpoint(raw, f"anchor {self.name}")

    def advance(self, checkpoint: Checkpoint) -> bool:
        """Write ``checkpoint`` when it is newer than the one held; False when it is not."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not moves_forward(self.read(), checkpoint):
                return False
            atomic_write(self.path, canonical(checkpoint.to_json()) + b"\n")
        return True


def ledger_keys(project: Project) -> list[PublicKey]:
    """The project's trusted ledger keys (``kiln:ledgerKeys``); [] when none are declared."""
    value = project.defaults().get(LEDGER_KEYS, [])
    keys = parse_trusted_keys(value, "ledgerKeys")
    return [PublicKey(k.id, k.type, k.public_key) for k in keys]
