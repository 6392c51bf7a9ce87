"""``kiln demo``: the whole pipeline on the local stand-ins, in a scratch copy of the project.

bake (Packer against the AWS emulator, a local dockerd and registry) → sign → plan every
stack → deploy to dev → promote to staging → stand the stacks up in the emulator → status,
rollback in one call → the promotion gate refusing a rolled-back release → audit → verify
the ledger. The repository's own stack files, records and ledger are never touched.

There is no Pulumi CLI here: where `pulumi up` would run, the demo says so and mirrors the
program's captured resources into the emulator instead (:mod:`kiln.local.mirror`).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ruamel.yaml import YAML

from kiln.aws import clients
from kiln.errors import OperationError
from kiln.local import standins
from kiln.local.steps import DemoResult, pipeline
from kiln.project import stackfiles
from kiln.project.files import atomic_write
from kiln.project.layout import PACK_CONFIG_DIR, PROJECT_FILE
from kiln.project.ledger_anchor import LEDGER_KEYS
from kiln.release.signing import generate_ed25519

COPIED = ("Pulumi.yaml", "stacks", "images", "policies")
DEMO_KEY_ID = "kiln-demo"


def _scratch_project(source: Path, workdir: Path) -> Path:
    root = workdir / "project"
    root.mkdir(parents=True)
    for name in COPIED:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, root / name, ignore=shutil.ignore_patterns(
                "__pycache__", "manifest.json"))
        elif path.exists():
            shutil.copy(path, root / name)
    # The program itself is shared: the demo runs the real one.
    (root / "infra").symlink_to(source / "infra")
    return root


def _trust(root: Path, public_pem: str) -> None:
    """Add the demo's key to the trusted release keys of every stack and policy config, and
    to the project's trusted ledger keys."""
    project = stackfiles.load_project(root)
    key = {"id": DEMO_KEY_ID, "type": "ed25519", "publicKey": public_pem}
    for stack in project.stacks():
        settings = stackfiles.load_settings(project, stack)
        keys = [{"id": k.id, "type": k.type, "publicKey": k.public_key}
                for k in settings.trusted_keys]
        stackfiles.update_config(project, stack, {"kiln:trustedKeys": [*keys, key]})
    # The same key signs the demo's ledger entries: trust it there too (project config).
    yaml = YAML()
    declared = yaml.load((root / PROJECT_FILE).read_text(encoding="utf-8"))
    declared["config"][LEDGER_KEYS]["default"] = [key]
    buffer = io.StringIO()
    yaml.dump(declared, buffer)
    atomic_write(root / PROJECT_FILE, buffer.getvalue())
    for config in (root / PACK_CONFIG_DIR).glob("*.json"):
        data = json.loads(config.read_text())
        rule = data.setdefault("kiln-ec2-launchtemplate-signed-image", {})
        rule["trustedKeys"] = [*rule.get("trustedKeys", []), key]
        atomic_write(config, json.dumps(data, indent=2) + "\n")


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run(source: Path, say: Callable[[str], None], keep: bool = False,
        workdir: Path | None = None) -> DemoResult:
    """Run the pipeline; ``say`` receives one line per step."""

    workdir = workdir or Path(tempfile.mkdtemp(prefix="kiln-demo-"))
    result = DemoResult(workdir)
    root = _scratch_project(source, workdir)
    say(f"workspace {workdir} (a scratch copy of the project; the program is the real one)")
    started = time.perf_counter()
    try:
        env = standins.up(workdir / "standins")
    except standins.StandinError as error:
        raise OperationError(f"local stand-ins did not start: {error} (the demo needs "
                             "packer, docker.io, docker-registry and busybox-static)") from None
    say(f"stand-ins up in {time.perf_counter() - started:.1f} s: AWS emulator "
        f"{env['AWS_ENDPOINT_URL']}, dockerd {env['DOCKER_HOST']}, registry "
        f"{env['KILN_REGISTRY']}")
    key_file = workdir / "keys" / f"{DEMO_KEY_ID}.pem"  # the key id is the file's stem
    key_file.parent.mkdir(mode=0o700)
    public = generate_ed25519(key_file)
    _trust(root, public.pem)
    env.update({"KILN_PROJECT_DIR": str(root), "KILN_SIGNING_KEY": str(key_file),
                "KILN_ACTOR": "demo"})
    try:
        with _environment(env):
            clients.reset()
            pipeline(root, env, say, result)
    finally:
        clients.reset()
        standins.down(workdir / "standins")
        say("stand-ins stopped")
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return result
