"""Pure parts of the bake: Packer's machine-readable output, pins, inputs and their hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.bake import inputs, machine, registry_auth
from kiln.bake.packer import Packer, version_tuple
from kiln.errors import BakeError, BuildError

BUILD_OK = """\
1795709186,,ui,say,==> amazon-ebs.golden: Creating AMI kiln-golden from instance i-83f
1795709186,,ui,message,    amazon-ebs.golden: AMI: ami-f69df3358a41e8e19
1795709186,amazon-ebs.golden,artifact-count,2
1795709186,amazon-ebs.golden,artifact,0,builder-id,mitchellh.amazonebs
1795709186,amazon-ebs.golden,artifact,0,id,eu-west-1:ami-f69df3358a41e8e19
1795709186,amazon-ebs.golden,artifact,0,string,AMIs were created:\\neu-west-1: ami-f69\\n
1795709186,amazon-ebs.golden,artifact,0,end
1795709186,amazon-ebs.golden,artifact,1,builder-id,mitchellh.amazonebs
1795709186,amazon-ebs.golden,artifact,1,id,eu-west-1:ami-f69df3358a41e8e19
1795709186,amazon-ebs.golden,artifact,1,end
1795709271,,ui,message,    docker.app (docker-push): in-abc: digest: sha256:{d} size: 735
""".replace("{d}", "4" * 64)

BAD_AMI = """\
1795709196,,ui,error,==> amazon-ebs.golden: Error querying AMI: InvalidAMIID.NotFound: The image \
id '[ami-dead]' does not exist\\n==> amazon-ebs.golden: \tstatus code: 400%!(PACKER_COMMA) \
request id: request-id
1795709196,,error-count,1
1795709196,amazon-ebs.golden,error,Error querying AMI: InvalidAMIID.NotFound: The image id \
'[ami-dead]' does not exist\\n\tstatus code: 400%!(PACKER_COMMA) request id: request-id
"""

UNSET = ("1795709195,,ui,error,Error: Unset variable \"source_ami\"\\n\\nA used variable "
         "must be set or have a default value; see\\nhttps://packer.io/docs/configuration/"
         "from-1.5/syntax for details.\\n\\n\n")

SYNTAX = ("1795709439,,ui,error,Error: Invalid expression\\n\\n  on t.pkr.hcl line 2%!(PACKER_"
          "COMMA) in source \"amazon-ebs\" \"x\":\\n   2:   region = \\n   3: }\\n\\nExpected "
          "the start of an expression%!(PACKER_COMMA) but found an invalid expression "
          "token.\\n\\n\n")


def test_artifacts_are_collected_once_per_id_with_pushed_digests() -> None:
    out = machine.parse(BUILD_OK)
    assert out.artifact_ids("amazon-ebs.golden") == ["eu-west-1:ami-f69df3358a41e8e19"]
    assert out.artifacts[0].builder_id == "mitchellh.amazonebs"
    assert out.pushed == {"in-abc": "sha256:" + "4" * 64}
    assert not out.ui_errors


@pytest.mark.parametrize(("text", "line"), [
    (BAD_AMI, "packer: amazon-ebs.golden: Error querying AMI: InvalidAMIID.NotFound: The "
              "image id '[ami-dead]' does not exist"),
    (UNSET, 'packer: Unset variable "source_ami": A used variable must be set or have a '
            "default value"),
    (SYNTAX, "packer: Invalid expression (t.pkr.hcl line 2): Expected the start of an "
             "expression, but found an invalid expression token"),
    ("panic: runtime error\ngoroutine 1\n", "packer: goroutine 1"),
    ("", "packer: exited with status 1 and no error message"),
])
def test_errors_become_one_line(text: str, line: str) -> None:
    message = machine.error_line(machine.parse(text), 1)
    assert message == line
    assert "\n" not in message


def test_manifest_entry_of_the_last_run(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"builds": [{"packer_run_uuid": "a", "artifact_id": "r:ami-1"}, '
                        '{"packer_run_uuid": "b", "artifact_id": "r:ami-2"}], '
                        '"last_run_uuid": "b"}')
    assert machine.read_manifest(manifest)["artifact_id"] == "r:ami-2"
    with pytest.raises(BakeError, match="no manifest"):
        machine.read_manifest(tmp_path / "absent.json")


def test_pins_are_plain_values_only() -> None:
    assert inputs.parse_pins('# c\na = "x"\nb = 3\nc = false\n\n// d\n') == \
        {"a": "x", "b": 3, "c": False}
    for bad in ('a = ["x"]', 'a = "${var.b}"', "a = b", "a"):
        with pytest.raises(BakeError, match="line 1"):
            inputs.parse_pins(bad)


def test_overrides() -> None:
    assert inputs.parse_overrides(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(BakeError, match="expected name=value"):
        inputs.parse_overrides(["novalue"])


def test_plugins_file_only_from_packer_1_7() -> None:
    assert not Packer("packer", "1.6.6").needs_plugin_file
    assert Packer("packer", "1.7.0").needs_plugin_file
    assert Packer("packer", "1.11.2").needs_plugin_file
    assert version_tuple("Packer v1.9.4 (abc)") == (1, 9, 4)


def write_images(root: Path) -> Path:
    images = root / "images"
    (images / "scripts").mkdir(parents=True)
    (images / "app").mkdir()
    (images / "variables.pkr.hcl").write_text("variable x {}\n")
    (images / "release.auto.pkrvars.hcl").write_text('region = "eu-west-1"\n')
    (images / "plugins.pkr.hcl").write_text("packer {}\n")
    (images / "golden.pkr.hcl").write_text(
        'scripts = ["${path.root}/scripts/a.sh"]\nout = "${path.root}/manifest.json"\n')
    (images / "container.pkr.hcl").write_text('source = "${path.root}/app/"\n')
    (images / "scripts" / "a.sh").write_text("a\n")
    (images / "scripts" / "unused.sh").write_text("u\n")
    (images / "app" / "serve.sh").write_text("s\n")
    return images


def test_files_are_what_the_template_reaches(tmp_path: Path) -> None:
    images = write_images(tmp_path)
    golden = inputs.collect_files(images, inputs.spec("golden"), with_plugins=False)
    assert sorted(golden) == ["golden.pkr.hcl", "release.auto.pkrvars.hcl", "scripts/a.sh",
                              "variables.pkr.hcl"]
    with_plugins = inputs.collect_files(images, inputs.spec("golden"), with_plugins=True)
    assert "plugins.pkr.hcl" in with_plugins
    container = inputs.collect_files(images, inputs.spec("container"), with_plugins=False)
    assert "app/serve.sh" in container and "scripts/a.sh" not in container


def test_hash_moves_with_every_input_but_not_with_destinations(tmp_path: Path) -> None:
    images = write_images(tmp_path)
    files = inputs.collect_files(images, inputs.spec("golden"), with_plugins=False)

    def hashed(files: dict[str, bytes] = files, base: str = "ami-1", packer: str = "1.6.6",
               **variables: object) -> str:
        return inputs.seal(inputs.Inputs(inputs.spec("golden"), files,
                                         {"region": "eu-west-1", **variables}, base,
                                         packer)).input_hash

    reference = hashed()
    assert hashed() == reference
    assert hashed(files={**files, "scripts/a.sh": b"a\n\n"}) != reference
    assert hashed(base="ami-2") != reference
    assert hashed(packer="1.6.7") != reference
    assert hashed(instance_type="t3.small") != reference
    assert hashed(ec2_endpoint="http://127.0.0.1:1", input_hash="x", repository="r/x") == \
        reference


def test_a_template_cannot_reach_outside_images(tmp_path: Path) -> None:
    images = write_images(tmp_path)
    (images / "golden.pkr.hcl").write_text('x = "${path.root}/../secret"\n')
    (tmp_path / "secret").write_text("s")
    with pytest.raises(BakeError, match="leaves"):
        inputs.collect_files(images, inputs.spec("golden"), with_plugins=False)


def test_unknown_image() -> None:
    with pytest.raises(BakeError, match="unknown image 'silver'; expected one of golden, app, "
                                         "container"):
        inputs.spec("silver")


PLUGINS = """packer {
  required_version = ">= 1.7.0"
  required_plugins {
    amazon = {
      version = "%s"
      source  = "github.com/hashicorp/amazon"
    }
    docker = {
      source  = "github.com/hashicorp/docker"
      version = "= 1.1.4"
    }
  }
}
"""


def test_plugin_pins_read_exact_versions() -> None:
    assert inputs.plugin_pins(PLUGINS % "= 1.8.3") == {"amazon": "1.8.3", "docker": "1.1.4"}
    assert inputs.plugin_pins(PLUGINS % "=1.8.3")["amazon"] == "1.8.3"


@pytest.mark.parametrize("version", [">= 1.8.3", "~> 1.8", "1.8.3", "= 1.8", "",
                                     "= 1.8.3, < 2"])
def test_a_plugin_not_pinned_exactly_is_refused(version: str) -> None:
    with pytest.raises(BakeError, match="plugin amazon is not pinned exactly"):
        inputs.plugin_pins(PLUGINS % version)


def test_the_repository_plugin_file_is_pinned_exactly() -> None:
    text = (Path(__file__).resolve().parents[2] / "images" / "plugins.pkr.hcl").read_text()
    assert set(inputs.plugin_pins(text)) == {"amazon", "docker"}


def _inputs(**changes: object) -> inputs.Inputs:
    fields: dict[str, object] = {
        "spec": inputs.spec("golden"), "files": {"golden.pkr.hcl": b"build {}"},
        "variables": {"region": "eu-west-1"}, "base": "ami-1", "packer_version": "1.9.4",
        "source": "amazon-ebs.golden", "plugins": {"amazon": "1.8.3"}}
    fields.update(changes)
    return inputs.seal(inputs.Inputs(**fields))  # type: ignore[arg-type]


def test_plugin_and_packer_versions_change_the_input_hash() -> None:
    plain = _inputs().input_hash
    assert _inputs(plugins={"amazon": "1.8.4"}).input_hash != plain
    assert _inputs(packer_version="1.9.5").input_hash != plain
    assert _inputs(variables={"region": "eu-west-1",
                              "ssh_source_cidrs": '["203.0.113.7/32"]'}).input_hash == plain


def test_a_bearer_challenge_names_realm_service_and_scope() -> None:
    kind, params = registry_auth.challenge(
        'Bearer realm="https://ghcr.io/token",service="ghcr.io",'
        'scope="repository:acme/web:pull"')
    assert kind == "bearer"
    assert params == {"realm": "https://ghcr.io/token", "service": "ghcr.io",
                      "scope": "repository:acme/web:pull"}
    assert registry_auth.challenge('Basic realm="Registry Realm"') == ("basic",
                                                                  {"realm": "Registry Realm"})


@pytest.mark.parametrize(("realm", "host", "allowed"), [
    ("https://ghcr.io/token", "ghcr.io", True),
    ("https://auth.example.com/token", "registry.example.com", True),
    ("http://ghcr.io/token", "ghcr.io", False),  # credentials in clear
    ("http://127.0.0.1:5001/token", "127.0.0.1:5000", True),
    ("http://10.0.0.1/token", "127.0.0.1:5000", False),  # a loopback registry sends us away
    ("file:///etc/passwd", "ghcr.io", False),
    ("", "ghcr.io", False),
])
def test_credentials_go_to_a_token_endpoint_only_over_https(realm: str, host: str,
                                                            allowed: bool) -> None:
    if allowed:
        assert registry_auth.check_realm(realm, host) == realm
    else:
        with pytest.raises(BuildError, match="only over HTTPS"):
            registry_auth.check_realm(realm, host)


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1:5000", True), ("localhost:5000", True), ("127.8.0.1", True),
    ("[::1]:5000", True), ("127.0.0.1.example.com", False), ("ghcr.io", False),
    ("10.0.0.1:5000", False)])
def test_plain_http_only_for_this_machine(host: str, expected: bool) -> None:
    assert registry_auth.loopback(host) is expected
