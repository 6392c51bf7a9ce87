"""`kiln audit --export` vs Checkov on the same synthetic stacks of 1,000 and 5,000 resources,
and one `kiln audit` over 50 exports of 1,000 resources each.

Each stack is blue/green services of ten resources (two target groups, two signed launch
templates, two ASGs, a listener, a security group, an ingress rule and an ECR repository;
every tenth service opens SSH). kiln audits it as a `pulumi stack export`, evaluating the
pack's rules in its own process (the default) and, for comparison, with `--analyzer` (the
real pack started as the engine starts it, over gRPC); Checkov scans the equivalent
Terraform plan JSON. All are timed as whole processes, alternating, and the medians are
compared (kiln 7 runs per size, `--analyzer` 3; Checkov 5 at 1,000, 1 at 5,000). The last
row is one command over a directory of 50 exports (50,000 resources) with its peak resident
memory. Checkov lives in its own virtual environment made with this interpreter (default
~/.cache/kiln/checkov-<version>-<interpreter>, created on first use; override with
KILN_CHECKOV_VENV), so both run on the same Python. KILN_BENCH_SIZES picks the sizes
(default 1000,5000); KILN_BENCH_MANY=0 skips the 50-export row.
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

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SIZES = [int(s) for s in os.environ.get("KILN_BENCH_SIZES", "1000,5000").split(",")]
MANY = int(os.environ.get("KILN_BENCH_MANY", "50"))
CHECKOV_VERSION = "3.3.30"
KILN_RUNS, ANALYZER_RUNS = 7, 3
CHECKOV_RUNS = defaultdict(lambda: 1, {100: 3, 1000: 5})
STACK, PROJECT, REGION = "bench", "kiln", "eu-west-1"
KEY = ed25519.Ed25519PrivateKey.generate()


def _urn(kind: str, name: str, stack: str = STACK) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{kind}::{name}"


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
        template = f"lt-{i:016x}{'0' if colour == 'blue' else '1'}"
        items += [
            ("aws:lb/targetGroup:TargetGroup", "aws_lb_target_group", f"{name}-{colour}-tg",
             {"port": 8080, "protocol": "HTTP", "arn": arn, "tags": coloured,
              "healthCheck": {"path": "/healthz", "protocol": "HTTP"}}),
            ("aws:ec2/launchTemplate:LaunchTemplate", "aws_launch_template",
             f"{name}-{colour}-lt",
             {"id": template, "imageId": image, "instanceType": "t3.micro",
              "metadataOptions": {"httpTokens": "required", "httpEndpoint": "enabled",
                                  "httpPutResponseHopLimit": 1},
              "networkInterfaces": [{"associatePublicIpAddress": "false"}],
              "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {
                  "encrypted": "true", "volumeSize": 20, "volumeType": "gp3"}}],
              "tags": {**coloured, "kiln:image": image, "kiln:release": release,
                       "kiln:signature": _sign(image, release), "kiln:container": "none"}}),
            ("aws:autoscaling/group:Group", "aws_autoscaling_group", f"{name}-{colour}-asg",
             {"launchTemplate": {"id": template, "version": "1"}, "minSize": 1,
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


def pulumi_export(items: list[tuple[str, str, str, dict[str, Any]]], stack_name: str = STACK
                  ) -> dict[str, Any]:
    stack = _urn("pulumi:pulumi:Stack", f"{PROJECT}-{stack_name}", stack_name)
    provider = _urn("pulumi:providers:aws", "default_7_51_1", stack_name)
    entries: list[dict[str, Any]] = [
        {"urn": stack, "custom": False, "type": "pulumi:pulumi:Stack"},
        {"urn": provider, "custom": True, "id": "p1", "type": "pulumi:providers:aws",
         "parent": stack, "inputs": {"region": REGION}, "outputs": {"region": REGION}}]
    for kind, _, name, props in items:
        entries.append({"urn": _urn(kind, name, stack_name), "custom": True, "id": f"id-{name}",
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


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int, int]:
    """Wall time, exit status and peak resident memory (KiB) of one whole process."""
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, child.returncode, usage.ru_maxrss


def kiln_audit(export: Path, out: Path, env: dict[str, str], *extra: str
               ) -> tuple[float, int]:
    took, code, peak = timed([str(BIN / "kiln"), "audit", "--export", str(export), "--env",
                              STACK, "--format", "json", "--out", str(out), *extra], env)
    if code not in (0, 1):
        raise SystemExit(f"kiln audit {' '.join(extra)} failed with exit status {code}")
    return took, peak


def main() -> None:
    checkov = checkov_bin()
    # size, exports, kiln s, --analyzer s, peak KB, checks, checkov s
    rows: list[tuple[str, str, float, float | None, int, int, float | None]] = []
    with tempfile.TemporaryDirectory(prefix="kiln-bench-") as temp:
        tmp = Path(temp)
        root = project(tmp)
        env = {**os.environ, "KILN_PROJECT_DIR": str(root)}
        for size in SIZES:
            items = resources(size)
            export = tmp / f"export-{size}.json"
            export.write_text(json.dumps(pulumi_export(items)))
            plan = tmp / f"plan-{size}.json"
            plan.write_text(json.dumps(terraform_plan(items)))
            ours, grpc, theirs, peaks = [], [], [], []
            # Alternating runs, medians: this machine's speed drifts between runs.
            for run in range(max(KILN_RUNS, CHECKOV_RUNS[size])):
                if run < KILN_RUNS:
                    took, peak = kiln_audit(export, tmp / "out", env)
                    ours.append(took)
                    peaks.append(peak)
                if run < ANALYZER_RUNS:
                    grpc.append(kiln_audit(export, tmp / "out", env, "--analyzer")[0])
                if run < CHECKOV_RUNS[size]:
                    theirs.append(timed([str(checkov), "-f", str(plan), "--framework",
                                         "terraform_plan", "--quiet", "--compact", "-o",
                                         "json", "--skip-download"])[0])
            report = json.loads((tmp / "out" / f"audit-{STACK}.json").read_text())
            rows.append((f"{size:,}", "1", median(ours), median(grpc), max(peaks),
                         report["counts"]["checks"], median(theirs)))
        if MANY:
            directory = tmp / "many"
            directory.mkdir()
            items = resources(1000)
            for index in range(MANY):
                stack = f"{STACK}{index:02d}"
                (directory / f"{stack}.json").write_text(
                    json.dumps(pulumi_export(items, stack)))
            took, peak = kiln_audit(directory, tmp / "many-out", env)
            summary = json.loads((tmp / "many-out" / "audit-summary.json").read_text())
            checks = sum(s["checks"] for s in summary["stacks"])
            rows.append((f"{MANY * 1000:,}", str(MANY), took, None, peak, checks, None))
    print(f"{'resources':>9}  {'exports':>7}  {'kiln audit s':>12}  {'--analyzer s':>12}  "
          f"{'peak MB':>7}  {'checks':>7}  {'checkov s':>9}  {'checkov / kiln':>14}")
    for shown, count, took_s, grpc_s, peak, checks, checkov_s in rows:
        grpc_text = f"{grpc_s:>12.2f}" if grpc_s is not None else f"{'-':>12}"
        theirs_text = f"{checkov_s:>9.2f}" if checkov_s is not None else f"{'-':>9}"
        ratio = f"{checkov_s / took_s:>13.1f}x" if checkov_s is not None else f"{'-':>14}"
        print(f"{shown:>9}  {count:>7}  {took_s:>12.2f}  {grpc_text}  {peak / 1024:>7.0f}  "
              f"{checks:>7}  {theirs_text}  {ratio}")
    print("kiln audit: the whole command, rules evaluated in process; --analyzer: the same "
          "command running the real pack over the engine's gRPC protocol; peak MB: the kiln "
          "command's peak resident memory")


if __name__ == "__main__":
    main()
