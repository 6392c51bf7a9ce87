"""`kiln evidence` as a command, its page in headless Chromium, and cosign-layout attestations
in a real registry read back by an independent check."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiln.evidence import registry
from kiln.local import standins
from kiln.records import store
from kiln.release.signing import Ed25519FileSigner
from tests.unit.test_evidence_support import CONTAINER_DIGEST, Released, make_release

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def kiln(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiln.cli", *args], capture_output=True,
                          text=True, timeout=300, env=os.environ, check=False, cwd=cwd)


@pytest.fixture
def released(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Released:
    made = make_release(tmp_path)
    (made.root / "infra").symlink_to(ROOT / "infra")
    (made.root / "policies").symlink_to(ROOT / "policies")
    monkeypatch.setenv("KILN_PROJECT_DIR", str(made.root))
    monkeypatch.setenv("KILN_SIGNING_KEY", str(made.key))
    monkeypatch.delenv("KILN_LEDGER_TABLE", raising=False)
    return made


def test_evidence_writes_and_verifies_with_audits(released: Released, tmp_path: Path) -> None:
    out = tmp_path / "evidence.tar.gz"
    made = kiln("evidence", "dev", "--release", released.app, "--out", str(out), "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["stacks"] == ["dev", "staging"]
    with tarfile.open(out) as tar:
        names = tar.getnames()
    for stack in ("dev", "staging"):
        for suffix in ("json", "sarif", "xml", "html"):
            assert f"audit/{stack}/audit-{stack}.{suffix}" in names
    started = time.perf_counter()
    checked = kiln("evidence", "verify", str(out), "--key", str(released.public))
    seconds = time.perf_counter() - started
    assert checked.returncode == 0, checked.stderr
    words = checked.stdout
    for needle in (f"VERIFIED: evidence for release {released.app}",
                   "Ran on dev since", "Ran on staging since",
                   "Tested first on dev, then served on staging",
                   "revoked: CVE in the app", "Signed by: kiln-test", "Audit of dev:"):
        assert needle in words, words
    print(f"bundle {out.stat().st_size} bytes, verify {seconds:.2f} s")


def test_evidence_refuses_tampering_and_bad_input_in_one_line(released: Released,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "e.tar.gz"
    assert kiln("evidence", "dev", "--release", released.app, "--out", str(out),
                "--no-audit").returncode == 0
    # Only the key inside the bundle: the stacks' trusted keys do not include it.
    untrusted = kiln("evidence", "verify", str(out))
    assert untrusted.returncode == 2 and len(untrusted.stderr.strip().splitlines()) == 1
    assert "no trusted key signed" in untrusted.stderr
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "bad.tar.gz").write_bytes(bytes(data))
    broken = kiln("evidence", "verify", str(tmp_path / "bad.tar.gz"), "--key",
                  str(released.public))
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert len(broken.stderr.strip().splitlines()) == 1
    for args, culprit in ((("evidence", "nosuchstack", "--release", released.app), "nosuchstack"),
                          (("evidence", "dev", "--release", "sha256:12"), "sha256:12"),
                          (("evidence", "verify"), "FILE"),
                          (("evidence", "verify", str(tmp_path / "none.tar.gz")), "none.tar.gz")):
        bad = kiln(*args, "--key", str(released.public))
        assert bad.returncode == 2, (args, bad.stderr)
        assert len(bad.stderr.strip().splitlines()) == 1 and culprit in bad.stderr, bad.stderr
    assert not list(Path.cwd().glob("evidence-*.tar.gz"))


def test_index_page_shows_the_timeline_in_chromium(released: Released, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)")
    out = tmp_path / "e.tar.gz"
    assert kiln("evidence", "dev", "--release", released.app, "--out", str(out),
                "--no-audit").returncode == 0
    opened = tmp_path / "opened"
    with tarfile.open(out) as tar:
        tar.extractall(opened, filter="data")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--no-first-run", "--disable-dev-shm-usage",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([browser, *flags, "--dump-dom", (opened / "index.html").as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert f'<code id="release">{released.app}</code>' in dom
    timeline = dom[dom.index('id="timeline"'):dom.index('id="artifacts"')]
    order = [timeline.index(step) for step in ("<b>bake</b>", "<b>sign</b>",
                                               "<b>served on dev</b>", "<b>served on staging</b>",
                                               "rolled back away from it on staging",
                                               "revoked: CVE in the app")]
    assert order == sorted(order)
    assert "ledger verified" in dom and "BROKEN" not in dom
    assert timeline.count("state ok") >= 6


def test_container_attestation_in_the_registry(released: Released, tmp_path: Path) -> None:
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is not installed (.ci/run installs it)")
    daemon = standins.start_registry(tmp_path / "registry")
    try:
        repository = f"{daemon.address}/kiln/web"
        path = store.find(released.root, released.container)
        assert path is not None
        record, digest = store.load(path)
        moved = type(record)(**{**record.__dict__, "images": {"repository": repository,
                                                               "digest": CONTAINER_DIGEST}})
        signer = Ed25519FileSigner(released.key)
        first = registry.push_record(moved, moved.digest, signer)
        assert registry.push_record(moved, moved.digest, signer) == first  # idempotent
        # Independent read: the registry API and `cryptography`, not kiln's reader.
        tag = "sha256-" + CONTAINER_DIGEST[7:] + ".att"
        base = f"http://{daemon.address}/v2/kiln/web"
        request = urllib.request.Request(f"{base}/manifests/{tag}", headers={
            "Accept": "application/vnd.oci.image.manifest.v1+json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            manifest = json.loads(response.read())
        [layer] = manifest["layers"]
        assert layer["mediaType"] == "application/vnd.dsse.envelope.v1+json"
        with urllib.request.urlopen(f"{base}/blobs/{layer['digest']}", timeout=10) as response:
            envelope = json.loads(response.read())
        payload = base64.b64decode(envelope["payload"])
        kind = envelope["payloadType"].encode()
        pae = b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)
        public = serialization.load_pem_public_key(released.public.read_bytes())
        assert isinstance(public, ed25519.Ed25519PublicKey)
        public.verify(base64.b64decode(envelope["signatures"][0]["sig"]), pae)
        statement = json.loads(payload)
        assert statement["subject"][0]["digest"] == {"sha256": CONTAINER_DIGEST[7:]}
        assert registry.read(repository, CONTAINER_DIGEST) == [envelope]
        assert registry.read(repository, "sha256:" + "0" * 64) == []
        assert digest == released.container
    finally:
        daemon.stop()
