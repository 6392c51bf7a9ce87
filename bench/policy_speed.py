"""`kiln audit --export` vs Checkov on the same synthetic stacks of 100, 1,000 and 5,000
resources.

Each stack is blue/green services of ten resources (two target groups, two signed launch
templates, two ASGs, a listener, a security group, an ingress rule and an ECR repository;
every tenth service opens SSH). kiln audits it as a `pulumi stack export` through the real
analyzer protocol (the pack started as the engine starts it); Checkov scans the equivalent
Terraform plan JSON. Both are timed as whole processes, alternating, and the medians are
compared (kiln 7 runs per size; Checkov 3 at 100, 5 at 1,000, 1 at 5,000). Checkov lives in
its own virtual environment made with this interpreter (default
~/.cache/kiln/checkov-<version>-<interpreter>, created on first use; override with
KILN_CHECKOV_VENV), so both run on the same Python. Prints one table, with the floor under
kiln's numbers: the same requests sent the same way to a one-policy no-op pack.
"""

from __future__ import annotations

import base64
import compileall
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from statistics import median
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiln.audit.analyzer import Analyzer, Requests
from kiln.audit.sources import from_export

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SIZES = [int(s) for s in os.environ.get("KILN_BENCH_SIZES", "100,1000,5000").split(",")]
CHECKOV_VERSION = "3.3.30"
KILN_RUNS = 7
CHECKOV_RUNS = defaultdict(lambda: 1, {100: 3, 1000: 5})
STACK, PROJECT, REGION = "bench", "kiln", "eu-west-1"
KEY = ed25519.Ed25519PrivateKey.generate()


def _urn(kind: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{kind}::{name}"


def _sign(image: str, release: str) -> str:
    message = f"kiln.release/v1\nami\n{image}\n{REGION}\n{release}\n".encode()
    return base64.b64encode(KEY.sign(message)).decode()


def service(i: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(pulumi type, terraform type, name, engine props) for one blue/green service."""
    name, tags = f"svc{i}", {"kiln:service": f"svc{i}", "kiln:stack": STACK}
    items: list[tuple[str, str, str, dict[str, Any]]] = []
    for colour in ("blue", "green"):
        image, release = f"ami-{i:08x}{'0' if colour == 'blue' else '1'}", "sha256:" + f"{i:064x}"
        arn = f"arn:aws:elasticloadbalancing:{REGION}:123456789012:targetgroup/{name}-{colour}/1"
        coloured = {**tags, "kiln:colour": colour}
        items += [
            ("aws:lb/targetGroup:TargetGroup", "aws_lb_target_group", f"{name}-{colour}-tg",
             {"port": 8080, "protocol": "HTTP", "arn": arn, "tags": coloured,
              "healthCheck": {"path": "/healthz", "protocol": "HTTP"}}),
            ("aws:ec2/launchTemplate:LaunchTemplate", "aws_launch_template",
             f"{name}-{colour}-lt",
             {"imageId": image, "instanceType": "t3.micro",
              "metadataOptions": {"httpTokens": "required", "httpEndpoint": "enabled",
                                  "httpPutResponseHopLimit": 1},
              "networkInterfaces": [{"associatePublicIpAddress": "false"}],
              "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {
                  "encrypted": "true", "volumeSize": 20, "volumeType": "gp3"}}],
              "tags": {**coloured, "kiln:image": image, "kiln:release": release,
                       "kiln:signature": _sign(image, release), "kiln:container": "none"}}),
            ("aws:autoscaling/group:Group", "aws_autoscaling_group", f"{name}-{colour}-asg",
             {"launchTemplate": {"id": f"lt-{i:017x}", "version": "1"}, "minSize": 1,
              "maxSize": 2, "desiredCapacity": 1, "healthCheckType": "ELB",
              "targetGroupArns": [arn],
              "tags": [{"key": k, "value": v, "propagateAtLaunch": True}
                       for k, v in coloured.items()]}),
        ]
    arns = [p["arn"] for t, _, _, p in items if t.startswith("aws:lb/targetGroup")]
    ssh = i % 10 == 0
    items += [
        ("aws:lb/listener:Listener", "aws_lb_listener", f"{name}-http",
         {"port": 80, "protocol": "HTTP", "tags": tags, "defaultActions": [{
             "type": "forward", "forward": {"targetGroups": [
                 {"arn": arns[0], "weight": 100}, {"arn": arns[1], "weight": 0}]}}]}),
        ("aws:ec2/securityGroup:SecurityGroup", "aws_security_group", f"{name}-sg",
         {"description": name, "tags": tags, "ingress": [
             {"protocol": "tcp", "fromPort": 22 if ssh else 443, "toPort": 22 if ssh else 443,
              "cidrBlocks": ["0.0.0.0/0"]}]}),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
         "aws_vpc_security_group_ingress_rule", f"{name}-in",
         {"securityGroupId": f"sg-{i:017x}", "ipProtocol": "tcp", "fromPort": 8080,
          "toPort": 8080, "cidrIpv4": "10.0.0.0/16", "tags": tags}),
        ("aws:ecr/repository:Repository", "aws_ecr_repository", f"{name}-repo",
         {"imageTagMutability": "IMMUTABLE", "imageScanningConfiguration": {"scanOnPush": True},
          "tags": tags}),
    ]
    return items


def resources(count: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    items: list[tuple[str, str, str, dict[str, Any]]] = []
    i = 0
    while len(items) < count:
        items += service(i)
        i += 1
    return items[:count]


def pulumi_export(items: list[tuple[str, str, str, dict[str, Any]]]) -> dict[str, Any]:
    stack = _urn("pulumi:pulumi:Stack", f"{PROJECT}-{STACK}")
    provider = _urn("pulumi:providers:aws", "default_7_51_1")
    entries: list[dict[str, Any]] = [
        {"urn": stack, "custom": False, "type": "pulumi:pulumi:Stack"},
        {"urn": provider, "custom": True, "id": "p1", "type": "pulumi:providers:aws",
         "parent": stack, "inputs": {"region": REGION}, "outputs": {"region": REGION}}]
    for kind, _, name, props in items:
        entries.append({"urn": _urn(kind, name), "custom": True, "id": f"id-{name}",
                        "type": kind, "parent": stack, "provider": f"{provider}::p1",
                        "inputs": props, "outputs": props})
    return {"version": 3, "deployment": {"manifest": {"version": "v3.200.0"},
                                         "resources": entries}}


def _snake(value: Any) -> Any:
    """Engine (camelCase) props → Terraform attribute names (nested blocks as lists)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
            out[snake] = [_snake(item)] if isinstance(item, dict) and key != "tags" \
                else _snake(item)
        return out
    if isinstance(value, list):
        return [_snake(v) for v in value]
    return value


def terraform_plan(items: list[tuple[str, str, str, dict[str, Any]]]) -> dict[str, Any]:
    planned, changes = [], []
    for _, kind, name, props in items:
        values = _snake(props)
        if kind == "aws_autoscaling_group":
            values["tags"] = values.pop("tags")
        address = f"{kind}.{name.replace('-', '_')}"
        planned.append({"address": address, "mode": "managed", "type": kind,
                        "name": name.replace("-", "_"), "provider_name":
                        "registry.terraform.io/hashicorp/aws", "schema_version": 0,
                        "values": values})
        changes.append({"address": address, "mode": "managed", "type": kind,
                        "name": name.replace("-", "_"),
                        "provider_name": "registry.terraform.io/hashicorp/aws",
                        "change": {"actions": ["create"], "before": None, "after": values}})
    return {"format_version": "1.2", "terraform_version": "1.9.8",
            "planned_values": {"root_module": {"resources": planned}},
            "resource_changes": changes,
            "configuration": {"root_module": {"resources": []}}}


def checkov_bin() -> Path:
    interpreter = hashlib.sha256(f"{sys.base_prefix} {sys.version}".encode()).hexdigest()[:8]
    default = Path.home() / ".cache" / "kiln" / f"checkov-{CHECKOV_VERSION}-{interpreter}"
    venv = Path(os.environ.get("KILN_CHECKOV_VENV") or default)
    binary = venv / "bin" / "checkov"
    if not binary.exists():
        print(f"installing checkov {CHECKOV_VERSION} into {venv} (first run only)",
              file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet",
                        "--disable-pip-version-check", f"checkov=={CHECKOV_VERSION}"],
                       check=True)
    return binary


def project(tmp: Path) -> Path:
    """A project whose pack trusts this run's signing key (config/bench.json)."""
    root = tmp / "project"
    (root / "policies").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    pack = root / "policies" / "immutable"
    shutil.copytree(ROOT / "policies" / "immutable", pack,
                    ignore=shutil.ignore_patterns("__pycache__"))
    pem = KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    config = json.loads((pack / "config" / "prod.json").read_text())
    config["kiln-ec2-launchtemplate-signed-image"] = {"trustedKeys": [
        {"id": "bench", "type": "ed25519", "publicKey": pem.decode()}]}
    (pack / "config" / f"{STACK}.json").write_text(json.dumps(config))
    # Installed once, compiled once (as `make` does for the project's own pack).
    compileall.compile_dir(pack, quiet=1)
    return root


NOOP_PACK = """from pulumi_policy import PolicyPack, ResourceValidationPolicy
PolicyPack("noop", [ResourceValidationPolicy(name="noop", description="does nothing",
                                             validate=lambda args, report: None)])
"""


def noop_pack(tmp: Path) -> Path:
    pack = tmp / "noop-pack"
    pack.mkdir()
    (pack / "__main__.py").write_text(NOOP_PACK)
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\nname: noop\nversion: 0.0.1\n")
    return pack


def noop_floor(pack: Path, export: Path) -> float:
    """Pack start → last answer for a one-policy no-op pack of Pulumi's Python policy SDK,
    driven exactly as `kiln audit` drives its pack (same requests, same client): what the
    SDK's start-up and its gRPC server cost before any rule runs."""

    with Analyzer(pack, project=PROJECT, stack=STACK, config={}) as analyzer:
        source = from_export(export, STACK)
        requests = Requests(source.analyzed, source.resources)
        analyzer.connect()
        analyzer.info()
        for _ in analyzer.evaluate(requests):
            pass
        return time.perf_counter() - analyzer.started


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start, done.returncode


def main() -> None:
    checkov = checkov_bin()
    with tempfile.TemporaryDirectory(prefix="kiln-bench-") as temp:
        tmp = Path(temp)
        root = project(tmp)
        noop = noop_pack(tmp)
        env = {**os.environ, "KILN_PROJECT_DIR": str(root)}
        rows = []
        for size in SIZES:
            items = resources(size)
            export = tmp / f"export-{size}.json"
            export.write_text(json.dumps(pulumi_export(items)))
            plan = tmp / f"plan-{size}.json"
            plan.write_text(json.dumps(terraform_plan(items)))
            kiln_runs, evaluations, floors, checkov_runs = [], [], [], []
            # Alternating runs, medians: this machine's speed drifts between runs.
            for run in range(max(KILN_RUNS, CHECKOV_RUNS[size])):
                if run < KILN_RUNS:
                    ours, code = timed([str(BIN / "kiln"), "audit", "--export", str(export),
                                        "--stack", STACK, "--format", "json", "--out",
                                        str(tmp / "out")], env)
                    if code not in (0, 1):
                        raise SystemExit(f"kiln audit failed with exit status {code} at {size}")
                    report = json.loads((tmp / "out" / f"audit-{STACK}.json").read_text())
                    kiln_runs.append(ours)
                    evaluations.append(report["durations"]["total"])
                    floors.append(noop_floor(noop, export))
                if run < CHECKOV_RUNS[size]:
                    theirs, _ = timed([str(checkov), "-f", str(plan), "--framework",
                                       "terraform_plan", "--quiet", "--compact", "-o", "json",
                                       "--skip-download"])
                    checkov_runs.append(theirs)
            rows.append((size, median(kiln_runs), median(evaluations), median(floors),
                         report["counts"]["checks"], median(checkov_runs)))
    # "kiln audit" is the whole command (interpreter, CLI, export, reports); "pack start →
    # results" is the part the engine would see: starting the pack to the last answer.
    print(f"{'resources':>9}  {'kiln audit s':>12}  {'pack start → results s':>22}  "
          f"{'no-op pack s':>12}  {'checks':>7}  {'checkov s':>9}  {'checkov / kiln':>14}  "
          f"{'checkov / no-op':>15}")
    for size, ours, evaluation, floor, checks, theirs in rows:
        print(f"{size:>9}  {ours:>12.2f}  {evaluation:>22.2f}  {floor:>12.2f}  {checks:>7}  "
              f"{theirs:>9.2f}  {theirs / ours:>13.1f}x  {theirs / floor:>14.1f}x")
    print("no-op pack: the same requests through the same protocol to a one-policy pack that "
          "does nothing (Pulumi's Python policy SDK alone); checkov / no-op: that SDK's start-up "
          "and server alone, no rule and no CLI")


if __name__ == "__main__":
    main()
