"""`kiln plan` through typer's test runner: table, JSON and the error cases."""

from __future__ import annotations

import json

import pytest

from tests.cli.clitools import invoke, one_line_error

pytestmark = pytest.mark.integration


def test_plan_prints_the_resource_tree_and_colours(project_copy):
    result = invoke("plan", "dev")
    assert result.exit_code == 0, result.output
    text = result.stdout
    for name in ("web-alb", "web-http", "web-blue-lt", "web-green-lt", "web-blue-asg",
                 "web-green-asg", "web-blue-tg", "web-green-tg", "web-instance-sg"):
        assert name in text
    assert "weights=blue=100, green=0" in text
    assert "image=ami-a0a13b4485099631d" in text
    assert "ports=tcp/8080  from=web-alb-sg" in text
    assert "dev: colours" in text


def test_plan_json_lists_what_prod_deploys(project_copy):
    result = invoke("plan", "prod", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["stack"] == "prod"
    by_type: dict[str, list[dict]] = {}
    for res in plan["resources"]:
        by_type.setdefault(res["type"], []).append(res)
    assert len(by_type["aws:lb/loadBalancer:LoadBalancer"]) == 1
    assert len(by_type["aws:lb/targetGroup:TargetGroup"]) == 2
    lts = {r["keys"]["colour"]: r["keys"] for r in by_type["aws:ec2/launchTemplate:LaunchTemplate"]}
    asgs = {r["keys"]["colour"]: r["keys"] for r in by_type["aws:autoscaling/group:Group"]}
    assert lts["blue"]["image"] == asgs["blue"]["image"] == "ami-4551f5a48c3e943bc"
    assert lts["green"]["image"] == asgs["green"]["image"] == "ami-052613d6fb811cd04"
    assert asgs["blue"]["version"] == "1"
    https = [r for r in by_type["aws:lb/listener:Listener"] if r["keys"]["port"] == 443]
    assert https[0]["keys"]["weights"] == {"blue": 100, "green": 0}
    assert plan["colours"]["blue"]["weight"] == 100 and plan["colours"]["blue"]["live"]
    assert plan["colours"]["green"]["capacity"] == {"min": 3, "desired": 6, "max": 12}


def test_plan_reflects_an_edited_stack_file(project_copy):
    path = project_copy / "stacks" / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace("kiln:live: blue", "kiln:live: green")
                    .replace("kiln:traffic: 100", "kiln:traffic: 10"))
    plan = json.loads(invoke("plan", "dev", "--json").stdout)
    assert plan["colours"]["green"]["weight"] == 10
    assert plan["colours"]["blue"]["weight"] == 90
    assert plan["outputs"]["liveColour"] == "green"


def test_plan_unknown_stack(project_copy):
    one_line_error(invoke("plan", "qa"), "unknown stack 'qa'", "dev, staging, prod")


def test_plan_bad_stack_name(project_copy):
    one_line_error(invoke("plan", "../etc"), "is not a stack name")


def test_plan_broken_yaml(project_copy):
    (project_copy / "stacks" / "Pulumi.dev.yaml").write_text("config:\n  kiln:live: [blue\n")
    one_line_error(invoke("plan", "dev"), "Pulumi.dev.yaml", "not valid YAML")


@pytest.mark.parametrize(("old", "new", "needles"), [
    ("image: ami-a0a13b4485099631d", "image: ami-12", ("kiln:blue.image", "ami-12")),
    ("kiln:traffic: 100", "kiln:traffic: 0", ("kiln:traffic", "1–100")),
    ("kiln:standby: cold", "kiln:stanby: cold", ("kiln:stanby", "did you mean 'standby'")),
    ("    healthPath: /healthz", "    helthPath: /healthz", ("kiln:service.helthPath",)),
    ("cidr: 10.10.0.0/16", "cidr: 10.10.0.0/33", ("kiln:network.cidr", "10.10.0.0/33")),
    ("      min: 1\n", "      min: 3\n", ("kiln:service.capacity", "min ≤ desired ≤ max")),
])
def test_plan_bad_setting(project_copy, old, new, needles):
    path = project_copy / "stacks" / "Pulumi.dev.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    one_line_error(invoke("plan", "dev"), *needles)


def test_plan_missing_required_key(project_copy):
    path = project_copy / "stacks" / "Pulumi.dev.yaml"
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("  kiln:green:"))
    del lines[start:start + 4]
    path.write_text("".join(lines))
    one_line_error(invoke("plan", "dev"), "kiln:green", "is missing")


def test_plan_outside_a_project(tmp_path, monkeypatch):
    monkeypatch.delenv("KILN_PROJECT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    one_line_error(invoke("plan", "dev"), "no Pulumi.yaml")


def test_demo_plans_every_stack(project_copy):
    result = invoke("demo", "--plan-only", "--json")
    assert result.exit_code == 0, result.output
    assert [p["stack"] for p in json.loads(result.stdout)] == ["dev", "staging", "prod"]
