"""``kiln bake``: inputs → cache lookup → Packer → record → signatures → tags → ledger.

A bake whose inputs were baked before (same input hash) reuses that artifact without
starting Packer, unless forced. Otherwise Packer builds, kiln writes and signs the
record, tags the AMI and appends ``bake`` and ``sign`` to the ledger. A failure at any
step leaves no record and no ledger entry.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln import __version__
from kiln.aws import images
from kiln.bake import inputs, oci, watch
from kiln.bake import packer as packer_mod
from kiln.bake.resolve import Resolved, resolve
from kiln.errors import BuildError
from kiln.project import layout
from kiln.records import store
from kiln.records.keys import open_signer
from kiln.records.ledgers import open_ledger
from kiln.records.publish import publish
from kiln.release import ledger as ledger_mod
from kiln.release.record import ArtifactRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BakeResult:
    name: str
    kind: str
    image: str  # AMI id, or repository@sha256:digest
    location: str  # region or repository
    record: str | None  # record digest
    record_path: Path | None
    input_hash: str
    cached: bool
    packer_run_uuid: str | None
    base: str
    source: str  # the template source built, e.g. amazon-chroot.app
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "image": self.image,
                "location": self.location, "record": self.record,
                "recordPath": str(self.record_path) if self.record_path else None,
                "inputHash": self.input_hash, "cached": self.cached,
                "packerRunUuid": self.packer_run_uuid, "base": self.base,
                "source": self.source, "seconds": round(self.seconds, 3)}


def source(root: Path) -> dict[str, Any]:
    """The commit baked from, and whether images/ differs from it."""
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                                  text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--", "images") if commit else None
    return {"commit": commit, "dirty": commit is None or bool(status)}


def _cache_hit(image: inputs.ImageSpec, root: Path, sealed: inputs.Inputs,
               resolved: Resolved) -> tuple[str, str, str | None, Path | None] | None:
    """(image, location, record digest, record path) of an earlier bake with these inputs."""
    if image.kind == "ami":
        found = images.find_baked(image.name, sealed.input_hash, resolved.region)
        if found is None:
            return None
        digest = images.tags_of(found)[images.RELEASE_TAG]
        path = store.find(root, digest)
        if path is None:
            log.warning("%s: record %s is not under %s (baked from another checkout?)",
                        found["ImageId"], digest, layout.releases_dir(root))
        return found["ImageId"], resolved.region, digest, path
    assert resolved.repository is not None
    repo = str(resolved.repository)
    latest = store.latest(root, image.name, lambda r: r.inputs.get("inputHash")
                          == sealed.input_hash and r.images.get("repository") == repo)
    if latest is None:
        return None
    # The record alone is not enough: the registry must still serve that digest for the tag.
    served = oci.digest_for_tag(resolved.repository, oci.input_tag(sealed.input_hash))
    if served != latest[0].images["digest"]:
        return None
    return f"{repo}@{served}", repo, latest[0].digest, latest[1]


def _images(image: inputs.ImageSpec, build: packer_mod.BuildResult, resolved: Resolved,
            tag: str) -> dict[str, str]:
    if image.kind == "ami":
        # The manifest is the hand-off; Packer's own artifact lines must agree with it.
        artifact_id = str(build.manifest.get("artifact_id", ""))
        reported = build.output.artifact_ids(resolved.source)
        if artifact_id not in reported:
            raise BuildError(f"packer: the manifest names {artifact_id!r} but "
                             f"{resolved.source} reported {reported}")
        found: dict[str, str] = {}
        for part in artifact_id.split(","):
            region, _, ami = part.partition(":")
            if ami.startswith("ami-"):
                found[region] = ami
        if not found:
            raise BuildError(f"packer: no AMI id in the manifest's artifact_id "
                            f"{build.manifest.get('artifact_id')!r}")
        return found
    assert resolved.repository is not None
    digest = oci.digest_for_tag(resolved.repository, tag)
    if digest is None:
        raise BuildError(f"registry {resolved.repository.host} has no tag {tag} after the push")
    pushed = build.output.pushed.get(tag)
    if pushed and pushed != digest:
        raise BuildError(f"registry serves {digest} for {tag} but Packer pushed {pushed}")
    return {"repository": str(resolved.repository), "digest": digest}


@dataclass(frozen=True)
class Prepared:
    """A bake up to Packer: what it reads, what it resolved, what it hashed."""

    image: inputs.ImageSpec
    images_dir: Path
    packer: packer_mod.Packer
    resolved: Resolved
    sealed: inputs.Inputs

    @property
    def tag(self) -> str:
        return oci.input_tag(self.sealed.input_hash)

    def packer_variables(self) -> dict[str, str]:
        """Every ``-var`` Packer gets (pins come from their file)."""
        variables = {**self.resolved.passed, "input_hash": self.sealed.input_hash}
        if self.image.kind == "container":
            variables["image_tag"] = self.tag
        return {k: inputs.packer_value(v) for k, v in variables.items()}


def prepare(name: str, root: Path, overrides: Mapping[str, str] | None = None,
            images_dir: Path | None = None) -> Prepared:
    """Read, resolve and hash the bake of image ``name`` (Packer is not started)."""
    image = inputs.spec(name)
    images_dir = images_dir or root / "images"
    packer_mod.check_environment()
    packer = packer_mod.find()
    files = inputs.collect_files(images_dir, image, packer.needs_plugin_file)
    pins = inputs.parse_pins(files[inputs.PINS_FILE].decode("utf-8", errors="replace"))
    plugins = inputs.plugin_pins(files[inputs.PLUGINS_FILE].decode("utf-8", errors="replace")) \
        if inputs.PLUGINS_FILE in files else {}
    resolved = resolve(image, root, pins, dict(overrides or {}),
                       imdsv2=packer.needs_plugin_file, packer_version=packer.version)
    sealed = inputs.seal(inputs.Inputs(image, files, resolved.variables, resolved.base,
                                       packer.version, resolved.source, plugins))
    return Prepared(image, images_dir, packer, resolved, sealed)


def validate(name: str, root: Path, overrides: Mapping[str, str] | None = None,
             images_dir: Path | None = None) -> Prepared:
    """``packer validate`` the bake of ``name`` for the source it would build, with the
    variables it would pass, without building; a rejection raises one line."""
    prepared = prepare(name, root, overrides, images_dir)
    with tempfile.TemporaryDirectory(prefix=f"kiln-validate-{name}-") as tmp:
        staged = packer_mod.stage(prepared.sealed.files, Path(tmp))
        packer_mod.validate(prepared.packer, staged, prepared.packer_variables(),
                            prepared.resolved.source, shown_as=str(prepared.images_dir))
    return prepared


def bake(name: str, root: Path, overrides: Mapping[str, str] | None = None, *,
         force: bool = False, signing_key: str | None = None, images_dir: Path | None = None,
         progress: Callable[[watch.Event], None] | None = None) -> BakeResult:
    """Bake image ``name`` of the project at ``root`` (or reuse an identical earlier bake).
    Packer's messages go to ``progress`` as they come and every line Packer prints to a
    log under ``.kiln/logs/``, named in the error when the build fails."""
    started = time.monotonic()
    prepared = prepare(name, root, overrides, images_dir)
    image, resolved, sealed = prepared.image, prepared.resolved, prepared.sealed
    ledger = open_ledger(root)
    ledger.verify()  # a broken ledger fails the bake before anything is built
    src = source(root)
    if not force:
        hit = _cache_hit(image, root, sealed, resolved)
        if hit is not None:
            image_id, location, digest, path = hit
            log.info("cache hit: %s inputs %s already baked as %s", name, sealed.input_hash,
                     image_id)
            ledger.append("bake", stack=None, commit=src["commit"],
                          subject={"name": name, "kind": image.kind, "image": image_id,
                                   "record": digest},
                          details={"inputHash": sealed.input_hash, "cache": "hit"})
            return BakeResult(name, image.kind, image_id, location, digest, path,
                              sealed.input_hash, True, None, resolved.base, resolved.source,
                              time.monotonic() - started)
    signer = open_signer(signing_key or layout.signing_key(), resolved.region)
    tag = prepared.tag
    path = watch.log_path(root, name)
    with tempfile.TemporaryDirectory(prefix=f"kiln-bake-{name}-") as tmp, \
            watch.PackerLog(path, progress) as packer_log:
        staged = packer_mod.stage(sealed.files, Path(tmp))
        try:
            build = packer_mod.build(prepared.packer, staged, prepared.packer_variables(),
                                     packer_log.write, shown_as=str(prepared.images_dir),
                                     only=resolved.source)
        except BuildError as error:
            raise BuildError(f"{error} (Packer's log: {path.relative_to(root)})") from None
    found = _images(image, build, resolved, tag)
    document = sealed.document()
    record = ArtifactRecord(
        kind=image.kind, name=name, images=found, source=src,
        inputs={"template": image.template, "source": resolved.source,
                "inputHash": sealed.input_hash,
                "variables": document["variables"], "base": resolved.base,
                "files": document["files"], **resolved.extra_inputs},
        tools=tools(prepared.packer.version, sealed.plugins),
        built_at=ledger_mod.now(), packer_run_uuid=str(build.manifest["packer_run_uuid"]))

    def tag_and_record_bake(signatures: store.SignatureFile) -> None:
        _tag(record, signatures, sealed.input_hash, src)
        ledger.append("bake", stack=None, commit=src["commit"],
                      subject={"name": name, "kind": image.kind,
                               "image": record.locations()[0][0], "record": record.digest},
                      details={"inputHash": sealed.input_hash, "cache": "miss",
                               "base": resolved.base, "packerRunUuid": record.packer_run_uuid})

    try:
        published = publish(root, record, signer, ledger, commit=src["commit"],
                            before_ledger=tag_and_record_bake)
    except Exception:
        log.error("built %s but did not publish it; nothing recorded", found)
        raise
    record_path = published.record_path
    image_id, location = record.locations()[0]
    shown = f"{location}@{image_id}" if image.kind == "container" else image_id
    return BakeResult(name, image.kind, shown, location, record.digest, record_path,
                      sealed.input_hash, False, record.packer_run_uuid, resolved.base,
                      resolved.source, time.monotonic() - started)


def tools(packer_version: str, plugins: Mapping[str, str]) -> dict[str, str]:
    """The record's ``tools``: Packer, each plugin (``packer-plugin-<name>``; none when
    Packer 1.6 has them built in) and kiln."""
    found = {"packer": packer_version, "kiln": __version__}
    found.update({f"packer-plugin-{name}": version for name, version in plugins.items()})
    return found


def _tag(record: ArtifactRecord, signatures: store.SignatureFile, input_hash: str,
         src: Mapping[str, Any]) -> None:
    """Mark each AMI as a finished, signed bake (one CreateTags call per AMI)."""
    if record.kind != "ami":
        return
    for signed in signatures.signatures:
        images.tag(signed.image, {
            images.RELEASE_TAG: record.digest,
            images.SIGNATURE_TAG: signed.signature,
            images.SIGNATURE_KEY_TAG: signatures.key_id,
            images.INPUT_HASH_TAG: input_hash,
            images.COMMIT_TAG: src.get("commit") or "unknown",
        }, signed.location)
