"""Evidence bundles: what they hold, and every tampering `evidence verify` must catch."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from test_evidence_support import Released, make_release

from kiln.errors import VerifyError
from kiln.evidence import bundle, check, provenance
from kiln.records import keys
from kiln.release.record import parse_record
from kiln.release.signing import Ed25519FileSigner, PublicKey, generate_ed25519

NOW = "2026-03-05T00:00:00Z"


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Released:
    return make_release(tmp_path_factory.mktemp("evidence"))


@pytest.fixture(scope="module")
def written(released: Released, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "evidence.tar.gz"
    bundle.write(released.root, released.app, out, entries=list(released.ledger.entries()),
                 verify_ledger=released.ledger.verify, signer=Ed25519FileSigner(released.key),
                 audit=None, now=NOW)
    return out


def trusted(released: Released) -> list[PublicKey]:
    return [keys.key_from_file(released.public)]


def members(path: Path) -> dict[str, bytes]:
    return check.read_members(path)


def repack(files: dict[str, bytes], path: Path) -> Path:
    path.write_bytes(bundle.archive(files))
    return path


def resign(files: dict[str, bytes], key: Path) -> dict[str, bytes]:
    """Recompute the manifest and sign it: what someone holding ``key`` could do."""
    files = {n: d for n, d in files.items() if n not in (bundle.MANIFEST, bundle.MANIFEST_SIG)}
    body = bundle.manifest(files, json.loads(files["timeline.json"])["release"], NOW)
    files[bundle.MANIFEST] = body
    files[bundle.MANIFEST_SIG] = json.dumps(provenance.envelope(
        body, Ed25519FileSigner(key), bundle.MANIFEST_TYPE)).encode()
    return files


def test_the_bundle_holds_the_release_and_verifies(released: Released, written: Path) -> None:
    files = members(written)
    with tarfile.open(written) as tar:
        assert tar.getnames()[0] == "index.html"
    records = {parse_record(d)[1] for n, d in files.items()
               if n.startswith("records/") and not n.endswith(".sig.json")}
    assert records == {released.app, released.copy, released.golden, released.container}
    kinds = [json.loads(line)["action"] for line in files["ledger/slice.jsonl"].splitlines()]
    assert kinds[:2] == ["bake", "sign"]
    assert {"deploy", "promote", "rollback", "revoke"} <= set(kinds)
    proof = check.verify(written, trusted(released))
    assert proof.release == released.app
    assert proof.attestations == 4
    assert proof.summary["stacks"] == ["dev", "staging"]
    assert proof.ledger["ok"] is True


def test_every_changed_member_fails(released: Released, written: Path, tmp_path: Path) -> None:
    files = members(written)
    for name in sorted(files):
        changed = dict(files)
        data = bytearray(changed[name])
        data[len(data) // 2] ^= 0x01
        changed[name] = bytes(data)
        with pytest.raises(VerifyError):
            check.verify(repack(changed, tmp_path / "changed.tar.gz"), trusted(released))


def test_a_missing_member_fails(released: Released, written: Path, tmp_path: Path) -> None:
    files = members(written)
    for name in sorted(files):
        fewer = {n: d for n, d in files.items() if n != name}
        with pytest.raises(VerifyError, match=r"missing|not the manifest"):
            check.verify(repack(fewer, tmp_path / "fewer.tar.gz"), trusted(released))


def test_an_extra_member_fails(released: Released, written: Path, tmp_path: Path) -> None:
    files = {**members(written), "records/app/extra.json": b"{}"}
    with pytest.raises(VerifyError, match="not in the manifest"):
        check.verify(repack(files, tmp_path / "extra.tar.gz"), trusted(released))


def test_a_forged_manifest_signature_fails(released: Released, written: Path,
                                           tmp_path: Path) -> None:
    generate_ed25519(tmp_path / "kiln-test.pem")  # same key id, another key
    forged = resign(members(written), tmp_path / "kiln-test.pem")
    with pytest.raises(VerifyError, match="no trusted key signed"):
        check.verify(repack(forged, tmp_path / "forged.tar.gz"), trusted(released))


def test_the_key_inside_the_bundle_is_never_trusted(released: Released, written: Path,
                                                    tmp_path: Path) -> None:
    generate_ed25519(tmp_path / "auditor.pem")
    with pytest.raises(VerifyError):
        check.verify(written, [keys.key_from_file(tmp_path / "auditor.pub")])
    with pytest.raises(VerifyError, match="no trusted keys"):
        check.verify(written, [])


def test_an_attestation_for_another_digest_fails(released: Released, written: Path,
                                                 tmp_path: Path) -> None:
    files = members(written)
    app = next(n for n in files if n.startswith(f"attestations/app/{released.app[7:]}/"))
    golden = next(n for n in files if n.startswith("attestations/golden/"))
    # Validly signed by the trusted key, re-listed in a validly signed manifest: only the
    # subject check can tell it is the golden AMI's attestation, not the app's.
    swapped = resign({**files, app: files[golden]}, released.key)
    with pytest.raises(VerifyError, match="another artifact"):
        check.verify(repack(swapped, tmp_path / "swapped.tar.gz"), trusted(released))


def test_an_edited_ledger_entry_fails_even_when_resigned(released: Released, written: Path,
                                                        tmp_path: Path) -> None:
    files = members(written)
    lines = files["ledger/slice.jsonl"].splitlines()
    entry = json.loads(lines[-1])
    entry["details"]["reason"] = "nothing to see"
    lines[-1] = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    edited = resign({**files, "ledger/slice.jsonl": b"\n".join(lines) + b"\n"}, released.key)
    with pytest.raises(VerifyError, match="was edited"):
        check.verify(repack(edited, tmp_path / "edited.tar.gz"), trusted(released))


def test_unsafe_member_names_are_refused(released: Released, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escape.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    (tmp_path / "evil.tar.gz").write_bytes(buffer.getvalue())
    with pytest.raises(VerifyError, match="plain file with a relative name"):
        check.verify(tmp_path / "evil.tar.gz", trusted(released))
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(VerifyError, match="not a readable evidence archive"):
        check.verify(tmp_path / "junk.tar.gz", trusted(released))
