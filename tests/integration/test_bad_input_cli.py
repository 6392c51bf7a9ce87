"""Bad input through the real `kiln` command: one line on stderr naming the culprit, the
documented exit code, no traceback, and the project tree byte for byte unchanged.

Also: an AWS endpoint that accepts connections and never answers fails `kiln rollback`
in seconds, saying which call timed out and how long kiln waited.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.aws import clients
from kiln.aws.errors import AwsTimeoutError
from kiln.records import keys, publish, store
from kiln.release.record import ArtifactRecord, canonical, digest_of
from kiln.release.signing import Ed25519FileSigner

from .opsutil import run_kiln

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# The stack's lock file is kiln's lock, not the stack's content: it may be created.
NOT_CONTENT = ("ledger/locks",)


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(NOT_CONTENT) or relative == "ledger":
            continue
        info = path.lstat()
        digest.update(f"{relative}\0{info.st_mode}\0".encode())
        if path.is_file() and not path.is_symlink():
            digest.update(path.read_bytes())
    return digest.hexdigest()


class Project:
    def __init__(self, root: Path, record: Path, signature: Path, public: Path) -> None:
        self.root, self.record, self.signature, self.public = root, record, signature, public

    def refused(self, *args: str, code: int = 2, fragments: tuple[str, ...] = (),
                env: dict[str, str] | None = None, timeout: float = 60) -> str:
        before = tree_hash(self.root)
        result = run_kiln(*args, env={"KILN_PROJECT_DIR": str(self.root), **(env or {})},
                          timeout=timeout)
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("kiln: error: "), result.stderr
        assert "Traceback" not in result.stderr
        assert result.returncode == code, result.stderr
        for fragment in fragments:
            assert fragment in lines[0], lines[0]
        assert tree_hash(self.root) == before
        return lines[0]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(ROOT / "stacks", root / "stacks")
    shutil.copytree(ROOT / "policies" / "immutable" / "config",
                    root / "policies" / "immutable" / "config")
    key = tmp_path / "keys" / "release.pem"
    _, public = keys.generate(key)
    record = ArtifactRecord(
        kind="ami", name="golden", images={"eu-west-1": "ami-0123456789abcdef0"},
        source={"commit": "a" * 40, "dirty": False},
        inputs={"template": "golden.pkr.hcl", "inputHash": "sha256:" + "1" * 64},
        tools={"packer": "1.6.6", "kiln": "0.1.0"}, built_at="2026-01-01T00:00:00Z",
        packer_run_uuid="8365a4ef-5b2f-37b1-eabf-cc74914f1282")
    record_path, sig_path = store.write(root, record, publish.sign(record,
                                                                   Ed25519FileSigner(key)))
    for name in ("AWS_ENDPOINT_URL", "AWS_REGION", "KILN_LEDGER_TABLE", "KILN_SIGNING_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return Project(root, record_path, sig_path, public)


def test_the_fixture_verifies(project: Project) -> None:
    result = run_kiln("verify", str(project.record), "--key", str(project.public),
                      env={"KILN_PROJECT_DIR": str(project.root)})
    assert result.returncode == 0, result.stderr


# --- stack and project files, read by `kiln verify --stack dev` ---------------------------

DEV = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text(encoding="utf-8")
BOMB = "config:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  {n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n"
    for p, n in zip("abcdefgh", "bcdefghi", strict=True))

STACK_CASES: list[tuple[str, bytes, tuple[str, ...]]] = [
    ("utf-16", DEV.encode("utf-16"), ("Pulumi.dev.yaml", "not UTF-8 text (byte 0")),
    ("latin-1", DEV.encode().replace(b"# dev:", b"# d\xe9v:"), ("Pulumi.dev.yaml", "byte 3")),
    ("alias-bomb", BOMB.encode(), ("Pulumi.dev.yaml", "anchor or alias")),
    ("deep", b"config: " + b"[" * 50_000 + b"]" * 50_000, ("nests deeper",)),
    ("namespace-typo", DEV.replace("kiln:standby", "kilm:standby").encode(),
     ("kilm:standby", "did you mean 'kiln:'?")),
    ("region", DEV.replace("eu-west-1", "eu-west-9").encode(),
     ("aws:region", "'eu-west-9' is not an AWS region")),
    ("pem-garbage", DEV.replace("MCowBQYDK2VwAyEA", "MCowBQYDK2VwAyEB").encode(),
     ("key 'kiln-release-2026'",)),
    ("pem-mismatch", DEV.replace("type: ed25519", "type: ecdsa-p256").encode(),
     ("key 'kiln-release-2026'", "declared ecdsa-p256")),
    ("config-int-key", DEV.replace("kiln:live: blue", "1: blue").encode(), ("config key 1",)),
]


@pytest.mark.parametrize(("content", "fragments"), [c[1:] for c in STACK_CASES],
                         ids=[c[0] for c in STACK_CASES])
def test_stack_file(project: Project, content: bytes, fragments: tuple[str, ...]) -> None:
    (project.root / "stacks" / "Pulumi.dev.yaml").write_bytes(content)
    started = time.monotonic()
    project.refused("verify", str(project.record), "--stack", "dev", fragments=fragments)
    assert time.monotonic() - started < 10


def test_stack_file_that_is_a_directory(project: Project) -> None:
    path = project.root / "stacks" / "Pulumi.dev.yaml"
    path.unlink()
    path.mkdir()
    line = project.refused("verify", str(project.record), "--stack", "dev",
                           fragments=("Pulumi.dev.yaml: is a directory",))
    assert "unknown stack" not in line


@pytest.mark.parametrize(("content", "fragments"), [
    (b"\xff\xfename: kiln\n", ("Pulumi.yaml", "not UTF-8 text (byte 0")),
    (b"name: &n kiln\nx: *n\n", ("Pulumi.yaml", "anchor or alias")),
    (b"name: kiln\nconfig: [a]\n", ("Pulumi.yaml", "'config' must be a mapping")),
], ids=["utf-16", "alias", "config-list"])
def test_project_file(project: Project, content: bytes, fragments: tuple[str, ...]) -> None:
    (project.root / "Pulumi.yaml").write_bytes(content)
    project.refused("verify", str(project.record), "--stack", "dev", fragments=fragments)


# --- records and signatures, read by `kiln verify RECORD --key PUB` -----------------------

def _self_named(project: Project, body: bytes) -> Path:
    """A record file named by the digest of its own bytes, so the name check passes and the
    content itself is what gets judged."""
    path = project.record.with_name(digest_of(body.rstrip(b"\n")).removeprefix("sha256:")
                                    + ".json")
    path.write_bytes(body)
    return path


@pytest.mark.parametrize(("change", "fragments"), [
    ({"images": "ami-0123456789abcdef0"}, ("record field images",)),
    ({"name": "../../etc"}, ("record field name",)),
    ({"source": {"commit": 1, "dirty": "no"}}, ("record field source.",)),
    ({"builtAt": 2026}, ("record field builtAt",)),
], ids=["images-string", "name-traversal", "source-types", "built-at-int"])
def test_record_with_wrong_types(project: Project, change: dict[str, object],
                                 fragments: tuple[str, ...]) -> None:
    body = {**store.load(project.record)[0].to_json(), **change}
    path = _self_named(project, canonical(body) + b"\n")
    project.refused("verify", str(path), "--key", str(project.public), fragments=fragments)


def test_non_json_record_is_not_json_rather_than_a_digest_mismatch(project: Project) -> None:
    path = _self_named(project, b"<html>not a record</html>\n")
    line = project.refused("verify", str(path), "--key", str(project.public),
                           fragments=("not JSON",))
    assert "digest mismatch" not in line


@pytest.mark.parametrize(("content", "fragments"), [
    (None, (".sig.json: is a directory",)),
    (b"not json", (".sig.json: signature file is not JSON",)),
    (b'{"schema": "kiln.signature/v1", "record": "sha256:00", "keyId": "k", '
     b'"keyType": "ed25519", "publicKey": "", "signatures": []}',
     ("signature file field",)),
], ids=["directory", "not-json", "wrong-types"])
def test_signature_file(project: Project, content: bytes | None,
                        fragments: tuple[str, ...]) -> None:
    project.signature.unlink()
    if content is None:
        project.signature.mkdir()
    else:
        project.signature.write_bytes(content)
    project.refused("verify", str(project.record), "--key", str(project.public),
                    fragments=fragments)


# --- keys ----------------------------------------------------------------------------

@pytest.mark.parametrize(("setup", "given", "fragments"), [
    (None, "new.pub", ("new.pub", "names the public half")),
    ("release.pem", "release.pem", ("release.pem: already exists", "--force")),
    ("release.pub", "release.pem", ("release.pub: already exists",)),
    ("release.pub/", "release.pem", ("release.pub: is a directory",)),
], ids=["pub-path", "private-exists", "public-exists", "public-is-directory"])
def test_keys_generate(project: Project, setup: str | None, given: str,
                       fragments: tuple[str, ...]) -> None:
    keydir = project.root / "keys"
    keydir.mkdir()
    if setup and setup.endswith("/"):
        (keydir / setup).mkdir()
    elif setup:
        (keydir / setup).write_text("an existing key\n")
    project.refused("keys", "generate", str(keydir / given), fragments=fragments)


# --- environment ----------------------------------------------------------------------

@pytest.mark.parametrize(("args", "env", "fragments"), [
    (("status", "dev"), {"AWS_ENDPOINT_URL": "localhost:4566"},
     ("AWS_ENDPOINT_URL", "'localhost:4566' is not an http(s) URL")),
    (("rollback", "dev"), {"AWS_ENDPOINT_URL": "http://[::1"}, ("AWS_ENDPOINT_URL",)),
    (("verify", "ami-0fffffffffffffff0", "--region", "eu-west-9"), {},
     ("'eu-west-9' is not an AWS region",)),
], ids=["endpoint-no-scheme", "endpoint-bad-ipv6", "region-option"])
def test_environment(project: Project, args: tuple[str, ...], env: dict[str, str],
                     fragments: tuple[str, ...]) -> None:
    extra = ("--key", str(project.public)) if args[0] == "verify" else ()
    project.refused(*args, *extra, env=env, fragments=fragments)


# --- bounded time ----------------------------------------------------------------------

@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A server on 127.0.0.1 that accepts every connection and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


@pytest.mark.parametrize("verb", [("rollback", "dev"), ("status", "dev")])
def test_a_silent_endpoint_fails_in_seconds(project: Project, silent_endpoint: str,
                                            verb: tuple[str, ...]) -> None:
    started = time.monotonic()
    line = project.refused(*verb, code=1, env={"AWS_ENDPOINT_URL": silent_endpoint},
                           timeout=60, fragments=(silent_endpoint, "AWS "))
    elapsed = time.monotonic() - started
    assert elapsed < 20, f"{line} ({elapsed:.1f} s)"
    assert " s " in line or " s)" in line  # says how long it waited
    print(f"{' '.join(verb)} against a silent endpoint: {elapsed:.1f} s: {line}")


def test_clients_keep_incident_sized_timeouts() -> None:
    assert clients.CONNECT_TIMEOUT <= 5 and clients.READ_TIMEOUT <= 10
    assert clients.READ_TIMEOUT < clients.DEADLINE <= 20


def test_an_operation_deadline_bounds_all_its_calls(silent_endpoint: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", silent_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    started = time.monotonic()
    with pytest.raises(AwsTimeoutError) as caught, clients.deadline(4, "rollback staging"):
        clients.client("elbv2", "eu-west-1").describe_load_balancers()
    elapsed = time.monotonic() - started
    assert elapsed < clients.READ_TIMEOUT + 2
    assert str(caught.value).startswith("rollback staging: stopped before AWS elbv2 "
                                        "DescribeLoadBalancers after ")
    assert caught.value.exit_code == 1
