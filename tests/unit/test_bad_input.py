"""Bad input at the boundaries kiln parses itself: stack and project files, records,
signature files, key files, the AWS endpoint, region and KMS key ids.

Every case is written the way someone trying to break the parser would: each must fail
with one line naming the culprit, exit status 2, in well under a second, and leave the
project tree byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kiln.aws import clients, kms
from kiln.errors import KilnError
from kiln.project import files, stackfiles
from kiln.project.files import WriteError, atomic_write
from kiln.records import keys, publish, store
from kiln.release.record import ArtifactRecord, canonical
from kiln.release.signing import Ed25519FileSigner

ROOT = Path(__file__).resolve().parents[2]
DEV_TEXT = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text(encoding="utf-8")
PROJECT_TEXT = (ROOT / "Pulumi.yaml").read_text(encoding="utf-8")
P256_PEM = ("        -----BEGIN PUBLIC KEY-----\n"
            "        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzp7sZEbe9S0Xir7qZHznCwZ/LMJ9\n"
            "        u49pGQxIPyrvN00yIjeDtP+C10B/YRDHh83zBuTc9qWiHkpPmHQHEQvz5g==\n"
            "        -----END PUBLIC KEY-----\n")
ALIAS_BOMB = "config:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  {n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n"
    for p, n in zip("abcdefgh", "bcdefghi", strict=True))


def tree_hash(root: Path) -> str:
    """Every path under ``root`` with its type, mode and bytes."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest.update(f"{path.relative_to(root)}\0{info.st_mode}\0".encode())
        if path.is_file() and not path.is_symlink():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def refused(root: Path, call: Callable[[], Any], *fragments: str) -> str:
    """Run ``call``: it must fail with kiln's one-line error (exit 2) naming each fragment,
    quickly, changing nothing under ``root``."""
    before = tree_hash(root)
    started = time.perf_counter()
    with pytest.raises(KilnError) as caught:
        call()
    assert time.perf_counter() - started < 2.0
    message = str(caught.value)
    assert caught.value.exit_code == 2, message
    assert "\n" not in message and message.strip() == message, message
    for fragment in fragments:
        assert fragment in message, message
    assert tree_hash(root) == before
    return message


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "Pulumi.yaml").write_text(PROJECT_TEXT, encoding="utf-8")
    shutil.copytree(ROOT / "stacks", root / "stacks")
    return root


# --- stack files -----------------------------------------------------------------------

def _swap(old: str, new: str) -> bytes:
    assert old in DEV_TEXT
    return DEV_TEXT.replace(old, new, 1).encode()


STACK_CASES: list[tuple[str, bytes, tuple[str, ...]]] = [
    ("png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", ("not UTF-8 text", "byte 0")),
    ("utf-16", DEV_TEXT.encode("utf-16"), ("not UTF-8 text", "byte 0")),
    ("latin-1-in-comment", DEV_TEXT.encode().replace(b"# dev:", b"# d\xe9v:", 1),
     ("not UTF-8 text", "byte 3")),
    ("truncated-utf-8", DEV_TEXT.encode() + b"# \xe2\x82", ("not UTF-8 text",
                                                          f"byte {len(DEV_TEXT) + 2}")),
    ("alias-bomb", ALIAS_BOMB.encode(), ("line 2", "anchor or alias")),
    ("one-alias", _swap("  kiln:live: blue", "  kiln:live: &c blue\n  kiln:x: *c"),
     ("anchor or alias",)),
    ("merge-key", _swap("  kiln:network:\n", "  kiln:network: &n\n") + b"  kiln:y:\n    <<: *n\n",
     ("anchor or alias",)),
    ("deep-brackets", b"config: " + b"[" * 100_000 + b"]" * 100_000, ("nests deeper than 32",)),
    ("deep-blocks", b"config:\n" + b"".join(b" " * i + b"- \n" for i in range(1, 200)),
     ("nests deeper",)),
    ("huge", DEV_TEXT.encode() + b"#" * 300_000, ("larger than 256 KiB",)),
    ("top-level-list", b"- config\n", ("expected a mapping with a 'config' section",)),
    ("config-list", b"config:\n  - aws:region\n", ("expected a mapping",)),
    ("config-int-key", _swap("  kiln:live: blue", "  1: blue"), ("config key 1 is not a name",)),
    ("config-list-key", _swap("  kiln:live: blue", "  ? [a, b]\n  : blue"),
     ("is not a name",)),
    ("duplicate-key", _swap("  kiln:live: blue", "  kiln:live: blue\n  kiln:live: green"),
     ("line", "duplicate key")),
    ("python-tag", _swap("  kiln:live: blue", "  kiln:live: !!python/object/apply:os.system [id]"),
     ("is not valid YAML",)),
    ("tab-indent", _swap("    name: web", "\tname: web"), ("is not valid YAML",)),
    ("nul-byte", _swap("  kiln:live: blue", "  kiln:live: bl\0ue"), ("is not valid YAML",)),
    ("open-quote", _swap("  kiln:live: blue", "  kiln:live: 'blue"), ("is not valid YAML",)),
    ("namespace-typo", _swap("  kiln:standby: cold", "  kilm:standby: cold"),
     ("kilm:standby", "did you mean 'kiln:'?")),
    ("namespace-case", _swap("  kiln:standby: cold", "  KILN:standby: cold"),
     ("KILN:standby", "did you mean 'kiln:'?")),
    ("region-unknown", _swap("aws:region: eu-west-1", "aws:region: eu-west-9"),
     ("aws:region", "'eu-west-9' is not an AWS region")),
    ("region-list", _swap("aws:region: eu-west-1", "aws:region: [eu-west-1]"),
     ("aws:region", "is not allowed")),
    ("pem-garbage", _swap("MCowBQYDK2VwAyEA2PrPueQyKdZE/DRtvBlqwE+m2/Whyr6H8ggk6komGkA=",
                          "bm90IGEga2V5IGF0IGFsbA=="),
     ("kiln:trustedKeys[0].publicKey", "key 'kiln-release-2026'", "not a readable PEM")),
    ("pem-type-mismatch", _swap("type: ed25519", "type: ecdsa-p256"),
     ("key 'kiln-release-2026'", "declared ecdsa-p256", "an ed25519 key")),
    ("pem-p256-declared-ed25519", DEV_TEXT[:DEV_TEXT.index("        -----BEGIN")].encode()
     + P256_PEM.encode(), ("key 'kiln-release-2026'", "declared ed25519")),
    ("pem-private-key", _swap("BEGIN PUBLIC KEY", "BEGIN PRIVATE KEY"),
     ("key 'kiln-release-2026'", "expected a PEM public key")),
    ("secret", _swap("  kiln:live: blue", "  kiln:live:\n    secure: AAABAKxyz"),
     ("kiln:live is an encrypted secret",)),
]


@pytest.mark.parametrize(("content", "fragments"), [c[1:] for c in STACK_CASES],
                         ids=[c[0] for c in STACK_CASES])
def test_stack_file(project: Path, content: bytes, fragments: tuple[str, ...]) -> None:
    (project / "stacks" / "Pulumi.dev.yaml").write_bytes(content)
    loaded = stackfiles.load_project(project)
    message = refused(project, lambda: stackfiles.load_settings(loaded, "dev"), *fragments)
    assert "Pulumi.dev.yaml" in message or "kiln:" in message or "aws:" in message


def test_stack_file_that_is_a_directory_is_not_an_unknown_stack(project: Path) -> None:
    path = project / "stacks" / "Pulumi.dev.yaml"
    path.unlink()
    path.mkdir()
    loaded = stackfiles.load_project(project)
    message = refused(project, lambda: stackfiles.load_settings(loaded, "dev"),
                      str(path), "is a directory")
    assert "unknown stack" not in message


def test_stack_file_edit_refuses_a_broken_file_before_writing(project: Path) -> None:
    (project / "stacks" / "Pulumi.dev.yaml").write_bytes(ALIAS_BOMB.encode())
    loaded = stackfiles.load_project(project)
    refused(project, lambda: stackfiles.update_config(loaded, "dev", {"kiln:live": "green"}),
            "anchor or alias")


def test_stack_file_edit_in_a_read_only_checkout_is_one_line(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What a read-only directory does to the temporary file beside the stack file (chmod
    # cannot show it: root writes anyway, and the tests run as root in CI).
    def read_only(*_: object, **__: object) -> None:
        raise PermissionError(13, "Permission denied")

    stacks = project / "stacks"
    loaded = stackfiles.load_project(project)
    before = (stacks / "Pulumi.dev.yaml").read_bytes()
    monkeypatch.setattr(files.tempfile, "mkstemp", read_only)
    with pytest.raises(KilnError) as caught:
        stackfiles.update_config(loaded, "dev", {"kiln:live": "green"})
    assert (stacks / "Pulumi.dev.yaml").read_bytes() == before
    assert caught.value.exit_code == 1
    assert str(caught.value) == f"{stacks / 'Pulumi.dev.yaml'}: cannot write (Permission denied)"


@pytest.mark.parametrize("blocker", ["file-as-parent", "directory-as-target"])
def test_atomic_write_failure_is_one_line_and_leaves_nothing(tmp_path: Path,
                                                             blocker: str) -> None:
    if blocker == "file-as-parent":
        (tmp_path / "stacks").write_text("a file where a directory should be")
        target = tmp_path / "stacks" / "Pulumi.dev.yaml"
    else:
        target = tmp_path / "Pulumi.dev.yaml"
        target.mkdir()
    before = tree_hash(tmp_path)
    with pytest.raises(WriteError) as caught:
        atomic_write(target, "config: {}\n")
    assert isinstance(caught.value, OSError) and caught.value.exit_code == 1
    assert str(caught.value).startswith(f"{target}: cannot write (")
    assert "\n" not in str(caught.value)
    assert tree_hash(tmp_path) == before


# --- project files ---------------------------------------------------------------------

def _project_swap(old: str, new: str) -> bytes:
    assert old in PROJECT_TEXT
    return PROJECT_TEXT.replace(old, new, 1).encode()


PROJECT_CASES: list[tuple[str, bytes, tuple[str, ...]]] = [
    ("binary", b"\0\xff\xfe\x00name", ("Pulumi.yaml", "not UTF-8 text", "byte 1")),
    ("utf-16", PROJECT_TEXT.encode("utf-16-le"), ("Pulumi.yaml",)),
    ("alias", _project_swap("main: infra/", "main: &m infra/\nx: *m"),
     ("Pulumi.yaml", "anchor or alias")),
    ("no-name", _project_swap("name: kiln\n", ""), ("expected a Pulumi project with a name",)),
    ("name-list", _project_swap("name: kiln\n", "name: [kiln]\n"),
     ("expected a Pulumi project with a name",)),
    ("name-empty", _project_swap("name: kiln\n", "name: ''\n"),
     ("expected a Pulumi project with a name",)),
    ("config-list", b"name: kiln\nconfig:\n  - kiln:service\n", ("'config' must be a mapping",)),
    ("config-int-key", b"name: kiln\nconfig:\n  7: x\n", ("config key 7 is not a name",)),
    ("main-mapping", _project_swap("main: infra/", "main: {path: infra}"),
     ("main must be a path",)),
    ("stack-dir-list", _project_swap("stackConfigDir: stacks", "stackConfigDir: [stacks]"),
     ("stackConfigDir must be a path",)),
    ("huge", PROJECT_TEXT.encode() + b"\n#" + b"x" * 300_000, ("larger than 256 KiB",)),
    ("deep", b"name: kiln\nx: " + b"{a: " * 50 + b"1" + b"}" * 50, ("nests deeper",)),
]


@pytest.mark.parametrize(("content", "fragments"), [c[1:] for c in PROJECT_CASES],
                         ids=[c[0] for c in PROJECT_CASES])
def test_project_file(project: Path, content: bytes, fragments: tuple[str, ...]) -> None:
    (project / "Pulumi.yaml").write_bytes(content)
    refused(project, lambda: stackfiles.load_project(project), *fragments)


def test_project_file_that_is_a_directory(project: Path) -> None:
    (project / "Pulumi.yaml").unlink()
    (project / "Pulumi.yaml").mkdir()
    refused(project, lambda: stackfiles.load_project(project), "Pulumi.yaml",
            "is a directory")


# --- records and signature files ---------------------------------------------------------

def make_record(**changes: Any) -> ArtifactRecord:
    fields: dict[str, Any] = {
        "kind": "ami", "name": "golden", "images": {"eu-west-1": "ami-0123456789abcdef0"},
        "source": {"commit": "a" * 40, "dirty": False},
        "inputs": {"template": "golden.pkr.hcl", "inputHash": "sha256:" + "1" * 64},
        "tools": {"packer": "1.6.6", "kiln": "0.1.0"}, "built_at": "2026-01-01T00:00:00Z",
        "packer_run_uuid": "8365a4ef-5b2f-37b1-eabf-cc74914f1282"}
    fields.update(changes)
    return ArtifactRecord(**fields)


@pytest.fixture
def signed(project: Path) -> tuple[Path, Path]:
    """A signed record and its signature file under the project's releases/."""
    key = project.parent / "keys" / "release.pem"
    keys.generate(key)
    record = make_record()
    return store.write(project, record, publish.sign(record, Ed25519FileSigner(key)))


def _record_json(**changes: Any) -> bytes:
    body = make_record().to_json()
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = body
        for part in parents:
            node = node[part]
        node[last] = value
    return canonical(body) + b"\n"


RECORD_CASES: list[tuple[str, bytes, tuple[str, ...]]] = [
    ("not-json", b"this is not a record\n", ("record is not JSON",)),
    ("empty", b"", ("record is not JSON",)),
    ("truncated", _record_json()[:40], ("record is not JSON",)),
    ("not-utf-8", b'{"name":"\xff"}', ("record is not UTF-8", "byte 9")),
    ("nan", _record_json().replace(b'"1.6.6"', b"NaN"), ("NaN is not a JSON number",)),
    ("deep", b"[" * 100_000 + b"]" * 100_000, ("nested too deeply",)),
    ("array", b"[1, 2]", ("not a kiln.artifact/v1 record",)),
    ("images-string", _record_json(images="ami-0123456789abcdef0"),
     ("record field images", "is not of type 'object'")),
    ("images-value-int", _record_json(images={"eu-west-1": 7}),
     ("record field images.eu-west-1",)),
    ("images-empty", _record_json(images={}), ("record field images",)),
    ("image-not-ami", _record_json(images={"eu-west-1": "i-0123456789abcdef0"}),
     ("record field images.eu-west-1", "does not match")),
    ("region-key-shape", _record_json(images={"EU West": "ami-0123456789abcdef0"}),
     ("record field images",)),
    ("name-traversal", _record_json(name="../../etc"), ("record field name", "does not match")),
    ("name-int", _record_json(name=3), ("record field name", "is not of type 'string'")),
    ("dirty-string", _record_json(source__dirty="no"), ("record field source.dirty",)),
    ("source-list", _record_json(source=["a"]), ("record field source",)),
    ("built-at-int", _record_json(builtAt=20260101), ("record field builtAt",)),
    ("tools-string", _record_json(tools="packer"), ("record field tools",)),
    ("copy-of-bad", _record_json(copyOf="sha256:xyz"), ("record field copyOf",)),
    ("container-no-digest", _record_json(kind="container", images={"repository": "r/web"}),
     ("images.repository and images.digest",)),
    ("container-bad-digest", _record_json(kind="container",
                                          images={"repository": "r/web", "digest": "latest"}),
     ("record field images.digest",)),
    ("kind-other", _record_json(kind="vm"), ("record kind 'vm'",)),
]


@pytest.mark.parametrize(("content", "fragments"), [c[1:] for c in RECORD_CASES],
                         ids=[c[0] for c in RECORD_CASES])
def test_record(signed: tuple[Path, Path], content: bytes, fragments: tuple[str, ...]) -> None:
    record_path, _ = signed
    record_path.write_bytes(content)
    message = refused(record_path.parents[2], lambda: store.load(record_path), *fragments)
    assert message.startswith(f"{record_path}: ")
    assert "digest mismatch" not in message


def test_record_path_that_is_a_directory(signed: tuple[Path, Path]) -> None:
    record_path, _ = signed
    record_path.unlink()
    record_path.mkdir()
    refused(record_path.parents[2], lambda: store.load(record_path), str(record_path),
            "is a directory")


def _signature_json(**changes: Any) -> Callable[[bytes], bytes]:
    def edit(original: bytes) -> bytes:
        body = json.loads(original)
        for name, value in changes.items():
            if name == "item":
                body["signatures"][0] = value
            elif value is None:
                del body[name]
            else:
                body[name] = value
        return json.dumps(body).encode()
    return edit


SIGNATURE_CASES: list[tuple[str, Callable[[bytes], bytes], tuple[str, ...]]] = [
    ("not-json", lambda _: b"signed, honest\n", ("signature file is not JSON",)),
    ("not-utf-8", lambda _: b'{"keyId":"\xc3"}', ("signature file is not UTF-8",)),
    ("array", lambda _: b"[]", ("not a kiln.signature/v1 file",)),
    ("other-schema", _signature_json(schema="kiln.signature/v2"),
     ("not a kiln.signature/v1 file",)),
    ("no-key-id", _signature_json(keyId=None), ("'keyId' is a required property",)),
    ("key-id-list", _signature_json(keyId=["a"]), ("signature file field keyId",)),
    ("key-type-rsa", _signature_json(keyType="rsa"), ("signature file field keyType",)),
    ("record-not-digest", _signature_json(record="sha256:abc"),
     ("signature file field record",)),
    ("signatures-object", _signature_json(signatures={"image": "x"}),
     ("signature file field signatures",)),
    ("signatures-empty", _signature_json(signatures=[]), ("signature file field signatures",)),
    ("item-string", _signature_json(item="sig"), ("signature file field signatures[0]",)),
    ("item-no-signature", _signature_json(item={"image": "ami-1", "location": "eu-west-1"}),
     ("signature file field signatures[0]", "'signature' is a required property")),
    ("item-signature-int", _signature_json(
        item={"image": "ami-1", "location": "eu-west-1", "signature": 5}),
     ("signature file field signatures[0].signature",)),
    ("huge", lambda original: original + b" " * (1024 * 1024), ("larger than 1024 KiB",)),
]


@pytest.mark.parametrize(("edit", "fragments"), [c[1:] for c in SIGNATURE_CASES],
                         ids=[c[0] for c in SIGNATURE_CASES])
def test_signature_file(signed: tuple[Path, Path], edit: Callable[[bytes], bytes],
                        fragments: tuple[str, ...]) -> None:
    _, sig_path = signed
    sig_path.write_bytes(edit(sig_path.read_bytes()))
    message = refused(sig_path.parents[2], lambda: store.read_signatures(sig_path), *fragments)
    assert message.startswith(f"{sig_path}: ")


def test_signature_path_that_is_a_directory(signed: tuple[Path, Path]) -> None:
    _, sig_path = signed
    sig_path.unlink()
    sig_path.mkdir()
    refused(sig_path.parents[2], lambda: store.read_signatures(sig_path), str(sig_path),
            "is a directory")


# --- the AWS endpoint, regions, KMS key ids ----------------------------------------------

ENV_CASES: list[tuple[str, dict[str, str], str | None, tuple[str, ...]]] = [
    ("endpoint-no-scheme", {"AWS_ENDPOINT_URL": "localhost:5000"}, None,
     ("AWS_ENDPOINT_URL", "'localhost:5000' is not an http(s) URL")),
    ("endpoint-empty-host", {"AWS_ENDPOINT_URL": "http://"}, None, ("AWS_ENDPOINT_URL",)),
    ("endpoint-ftp", {"AWS_ENDPOINT_URL": "ftp://127.0.0.1"}, None, ("AWS_ENDPOINT_URL",)),
    ("endpoint-bad-ipv6", {"AWS_ENDPOINT_URL": "http://[::1"}, None, ("AWS_ENDPOINT_URL",)),
    ("endpoint-bad-port", {"AWS_ENDPOINT_URL": "http://127.0.0.1:99999"}, None,
     ("AWS_ENDPOINT_URL",)),
    ("endpoint-word", {"AWS_ENDPOINT_URL": "moto"}, None, ("AWS_ENDPOINT_URL",)),
    ("region-argument", {}, "eu-west-9", ("region", "'eu-west-9' is not an AWS region")),
    ("region-env", {"AWS_REGION": "mars-1"}, None, ("AWS_REGION", "'mars-1'")),
    ("region-default-env", {"AWS_DEFAULT_REGION": "eu_west_1"}, None,
     ("AWS_DEFAULT_REGION", "'eu_west_1'")),
]


@pytest.mark.parametrize(("env", "region", "fragments"), [c[1:] for c in ENV_CASES],
                         ids=[c[0] for c in ENV_CASES])
def test_aws_environment(project: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                         region: str | None, fragments: tuple[str, ...]) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    refused(project, lambda: clients.client("ec2", region), *fragments)


@pytest.mark.parametrize("key_id", ["", "alias/", "1234", "arn:aws:kms:eu-west-1:1:key/x",
                                    "key id with spaces", "alias/a b"])
def test_kms_key_id(project: Path, key_id: str) -> None:
    refused(project, lambda: kms.public_key(key_id, "eu-west-1"), f"kms:{key_id!r}",
            "is not a KMS key id")


def test_kms_key_ids_of_every_shape_are_accepted() -> None:
    for key_id in ("1234abcd-12ab-34cd-56ef-1234567890ab", "alias/kiln-release",
                   "mrk-1234abcd12ab34cd56ef1234567890ab",
                   "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                   "arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/kiln"):
        assert kms.check_key_id(key_id) == key_id


# --- key files -------------------------------------------------------------------------

def _key_setup(kind: str, keydir: Path) -> Path:
    """Prepare ``keydir`` for one case; return the path given to `kiln keys generate`."""
    path = keydir / "release.pem"
    if kind == "pub-path":
        return keydir / "release.pub"
    if kind == "pem-pub-path":
        return keydir / "release.pem.pub"
    if kind == "private-exists":
        path.write_text("an old private key\n")
    elif kind == "public-exists":
        (keydir / "release.pub").write_text("an old public key\n")
    elif kind == "public-is-directory":
        (keydir / "release.pub").mkdir()
    elif kind == "private-is-directory":
        path.mkdir()
    elif kind == "dangling-symlink":
        path.symlink_to(keydir / "elsewhere.pem")
    elif kind == "parent-is-file":
        (keydir / "not-a-dir").write_text("x")
        return keydir / "not-a-dir" / "release.pem"
    return path


KEY_CASES: list[tuple[str, tuple[str, ...]]] = [
    ("pub-path", ("release.pub", "names the public half", "release.pem")),
    ("pem-pub-path", ("release.pem.pub", "names the public half")),
    ("private-exists", ("release.pem: already exists", "--force")),
    ("public-exists", ("release.pub: already exists", "--force")),
    ("public-is-directory", ("release.pub: is a directory", "public key")),
    ("private-is-directory", ("release.pem: is a directory", "private key")),
    ("dangling-symlink", ("release.pem: already exists",)),
    ("parent-is-file", ("not-a-dir",)),
]


@pytest.mark.parametrize(("kind", "fragments"), KEY_CASES, ids=[c[0] for c in KEY_CASES])
def test_key_generation_never_loses_a_key(tmp_path: Path, kind: str,
                                          fragments: tuple[str, ...]) -> None:
    keydir = tmp_path / "keys"
    keydir.mkdir()
    path = _key_setup(kind, keydir)
    refused(keydir, lambda: keys.generate(path), *fragments)


def test_key_generation_writes_both_files_and_no_temporaries(tmp_path: Path) -> None:
    public, public_path = keys.generate(tmp_path / "release.pem")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release.pem", "release.pub"]
    assert (tmp_path / "release.pem").stat().st_mode & 0o777 == 0o600
    assert public_path.read_text() == public.pem
    assert Ed25519FileSigner(tmp_path / "release.pem").public_key().pem == public.pem


def test_force_replaces_both_files(tmp_path: Path) -> None:
    old, _ = keys.generate(tmp_path / "release.pem")
    new, public_path = keys.generate(tmp_path / "release.pem", force=True)
    assert new.pem != old.pem and public_path.read_text() == new.pem
    assert Ed25519FileSigner(tmp_path / "release.pem").public_key().pem == new.pem
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release.pem", "release.pub"]


def test_failed_force_keeps_the_old_private_key(tmp_path: Path) -> None:
    keys.generate(tmp_path / "release.pem")
    old_private = (tmp_path / "release.pem").read_bytes()
    (tmp_path / "release.pub").unlink()
    (tmp_path / "release.pub").mkdir()
    refused(tmp_path, lambda: keys.generate(tmp_path / "release.pem", force=True),
            "release.pub: is a directory")
    assert (tmp_path / "release.pem").read_bytes() == old_private


# --- the signing key named by KILN_SIGNING_KEY / --signing-key ----------------------------

def _signing_spec(kind: str, keydir: Path) -> str:
    if kind == "directory":
        return str(keydir)
    if kind == "missing":
        return str(keydir / "absent.pem")
    if kind == "public-half":
        keys.generate(keydir / "release.pem")
        return str(keydir / "release.pub")
    if kind == "garbage":
        (keydir / "garbage.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\n!!\n")
        return str(keydir / "garbage.pem")
    if kind == "binary":
        (keydir / "binary.pem").write_bytes(os.urandom(64))
        return str(keydir / "binary.pem")
    return {"kms-empty": "kms:", "kms-spaces": "kms:my key",
            "kms-arn-truncated": "kms:arn:aws:kms:eu-west-1:123456789012:key/"}[kind]


SIGNING_KEY_CASES: list[tuple[str, tuple[str, ...]]] = [
    ("directory", ("cannot read signing key", "Is a directory")),
    ("missing", ("no signing key at", "absent.pem", "kiln keys generate")),
    ("public-half", ("release.pub", "not an unencrypted PEM private key")),
    ("garbage", ("garbage.pem", "not an unencrypted PEM private key")),
    ("binary", ("binary.pem", "not an unencrypted PEM private key")),
    ("kms-empty", ("kms:''", "is not a KMS key id")),
    ("kms-spaces", ("kms:'my key'", "is not a KMS key id")),
    ("kms-arn-truncated", ("is not a KMS key id",)),
]


@pytest.mark.parametrize(("kind", "fragments"), SIGNING_KEY_CASES,
                         ids=[c[0] for c in SIGNING_KEY_CASES])
def test_signing_key(tmp_path: Path, kind: str, fragments: tuple[str, ...]) -> None:
    keydir = tmp_path / "keys"
    keydir.mkdir()
    spec = _signing_spec(kind, keydir)
    refused(tmp_path, lambda: keys.open_signer(spec, "eu-west-1"), *fragments)
