"""Pulumi.yaml and every stack file satisfy Pulumi's own file schema at the minimum CLI.

These are kiln's own checks, written from Pulumi's published constraints rather than a copy
of them:

- the project file schema, pulumi/pulumi ``sdk/go/common/workspace/project.json``
  (``configTypeDeclaration``: ``type`` required, no other keys than type, items,
  description, secret, default; ``simpleConfigType``; arrays need ``items``; ``name`` and
  ``runtime`` required), with ``object`` added to the config types by pulumi/pulumi#20129 and
  #20132 (July 2025) — the reason the minimum CLI is 3.187.0;
- the project file reference (pulumi/docs ``content/docs/iac/concepts/projects/
  project-file.md``): Python runtime options ``toolchain`` (pip, poetry, uv),
  ``virtualenv`` (pip and uv only), ``typechecker``; ``requiredPulumiVersion`` is a blang/semver
  range;
- the stack file, ``ProjectStack`` in ``sdk/go/common/workspace/project.go``:
  ``secretsprovider``, ``encryptedkey``, ``encryptionsalt``, ``config``, ``environment``;
  stack values of project keys are checked against the declared type, and a declared key
  without a default must be set by every stack.

Each check is proven on a broken copy first, so a check that cannot fail is caught too.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
MINIMUM_CLI = (3, 187, 0)

PROJECT_KEYS = {"name", "runtime", "description", "author", "website", "license", "main",
                "config", "stackConfigDir", "backend", "options", "template", "plugins",
                "packages", "requiredPulumiVersion"}
CONFIG_TYPES = {"string", "integer", "boolean", "array", "object"}
DECLARATION_KEYS = {"type", "items", "description", "secret", "default"}
PYTHON_OPTIONS = {"toolchain": {"pip", "poetry", "uv"}, "virtualenv": None, "typechecker":
                  {"mypy", "pyright"}}
STACK_KEYS = {"secretsprovider", "encryptedkey", "encryptionsalt", "config", "environment"}
NAME = re.compile(r"[A-Za-z0-9_.-]+")
RANGE = re.compile(r">=(\d+)\.(\d+)\.(\d+)")


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _matches(value: Any, declaration: dict[str, Any]) -> bool:
    kind = declaration.get("type")
    if kind == "array":
        return isinstance(value, list) and all(_matches(v, declaration["items"]) for v in value)
    checks = {"string": lambda v: isinstance(v, str),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "boolean": lambda v: isinstance(v, bool),
              "object": lambda v: isinstance(v, dict)}
    return checks[kind](value) if kind in checks else False


def _items_problems(where: str, items: Any) -> list[str]:
    if not isinstance(items, dict) or items.get("type") not in CONFIG_TYPES:
        return [f"{where}: items need a type in {sorted(CONFIG_TYPES)}"]
    if items["type"] == "array" and "items" not in items:
        return [f"{where}: an array needs items"]
    return _items_problems(where, items["items"]) if items["type"] == "array" else []


def _declaration_problems(project: str, key: str, entry: Any) -> list[str]:
    namespace = key.split(":", 1)[0] if ":" in key else project
    if namespace != project:
        # Another package's key (aws:region) may only be given a plain value.
        ok = not isinstance(entry, dict) or set(entry) == {"value"}
        return [] if ok else [f"config {key}: only `value` is allowed for another namespace"]
    if not isinstance(entry, dict):
        return []
    found = [f"config {key}: unknown field {k!r}" for k in sorted(set(entry) - DECLARATION_KEYS)]
    if entry.get("type") not in CONFIG_TYPES:
        return [*found, f"config {key}: type must be one of {sorted(CONFIG_TYPES)}"]
    if entry["type"] == "array":
        found += (_items_problems(f"config {key}", entry["items"]) if "items" in entry
                  else [f"config {key}: an array needs items"])
    if "description" in entry and not isinstance(entry["description"], str):
        found.append(f"config {key}: description must be a string")
    checkable = entry["type"] != "array" or "items" in entry
    if "default" in entry and checkable and not _matches(entry["default"], entry):
        found.append(f"config {key}: default does not match type {entry['type']}")
    return found


def _runtime_problems(runtime: Any) -> list[str]:
    if isinstance(runtime, str):
        return [] if runtime else ["runtime: empty"]
    if not isinstance(runtime, dict) or set(runtime) - {"name", "options"}:
        return ["runtime: only name and options are allowed"]
    options = runtime.get("options") or {}
    found = [f"runtime.options: {k!r} is not a Python option"
             for k in sorted(set(options) - set(PYTHON_OPTIONS))]
    for key, allowed in PYTHON_OPTIONS.items():
        if allowed and key in options and options[key] not in allowed:
            found.append(f"runtime.options.{key}: {options[key]!r} not in {sorted(allowed)}")
    if "virtualenv" in options and options.get("toolchain", "pip") not in {"pip", "uv"}:
        found.append("runtime.options.virtualenv needs the pip or uv toolchain")
    return found


def project_problems(project: Any) -> list[str]:
    if not isinstance(project, dict):
        return ["project: not a mapping"]
    found = [f"project: missing {k}" for k in ("name", "runtime") if k not in project]
    found += [f"project: unknown field {k!r}" for k in sorted(set(project) - PROJECT_KEYS)]
    if not NAME.fullmatch(str(project.get("name", ""))):
        found.append("project: name must be letters, digits, '-', '_' or '.'")
    found += _runtime_problems(project.get("runtime"))
    for key in ("main", "stackConfigDir", "description"):
        if key in project and not isinstance(project[key], str):
            found.append(f"project: {key} must be a string")
    version = RANGE.fullmatch(str(project.get("requiredPulumiVersion", "")))
    if version is None or tuple(int(p) for p in version.groups()) < MINIMUM_CLI:
        found.append("project: requiredPulumiVersion must be >=3.187.0 or later")
    for key, entry in (project.get("config") or {}).items():
        found += _declaration_problems(str(project.get("name")), str(key), entry)
    return found


def stack_problems(project: dict[str, Any], stack: Any, name: str = "stack") -> list[str]:
    if not isinstance(stack, dict):
        return [f"{name}: not a mapping"]
    found = [f"{name}: unknown field {k!r}" for k in sorted(set(stack) - STACK_KEYS)]
    found += [f"{name}: {k} must be a string" for k in ("secretsprovider", "encryptedkey",
              "encryptionsalt") if k in stack and not isinstance(stack[k], str)]
    declared = {(k if ":" in k else f"{project['name']}:{k}"): v
                for k, v in (project.get("config") or {}).items() if isinstance(v, dict)}
    values = {(k if ":" in k else f"{project['name']}:{k}"): v
              for k, v in (stack.get("config") or {}).items()}
    for key, declaration in declared.items():
        if "type" not in declaration:
            continue
        if key not in values and "default" not in declaration:
            found.append(f"{name}: missing required {key}")
        elif key in values and not _matches(values[key], declaration):
            found.append(f"{name}: {key} is not a {declaration['type']}")
    namespace = f"{project['name']}:"
    found += [f"{name}: {k} is not declared in Pulumi.yaml" for k in sorted(values)
              if k.startswith(namespace) and k not in declared]
    return found


PROJECT = _load(ROOT / "Pulumi.yaml")
STACK_FILES = sorted((ROOT / PROJECT["stackConfigDir"]).glob("Pulumi.*.yaml"))


def test_the_project_file_satisfies_the_schema() -> None:
    assert project_problems(PROJECT) == []


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_every_stack_file_satisfies_the_schema(path: Path) -> None:
    assert stack_problems(PROJECT, _load(path), path.name) == []


def test_there_are_stack_files_to_check() -> None:
    assert {p.name for p in STACK_FILES} >= {"Pulumi.dev.yaml", "Pulumi.staging.yaml",
                                             "Pulumi.prod.yaml"}


def test_the_virtualenv_is_the_one_make_creates() -> None:
    options = PROJECT["runtime"]["options"]
    assert options["toolchain"] == "pip"
    venv = re.search(r"^VENV \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert venv is not None and options["virtualenv"] == venv.group(1)
    assert (ROOT / PROJECT["main"] / "requirements.txt").is_file()


def _broken(edit: Any) -> dict[str, Any]:
    project = copy.deepcopy(PROJECT)
    edit(project)
    return project


PROJECT_BREAKAGES = {
    "missing runtime": lambda p: p.pop("runtime"),
    "unknown top-level field": lambda p: p.update(stackconfigdir="stacks"),
    "map is not a config type": lambda p: p["config"]["kiln:service"].update(type="map"),
    "declaration without a type": lambda p: p["config"]["kiln:live"].pop("type"),
    "array without items": lambda p: p["config"]["kiln:environments"].pop("items"),
    "value beside a type": lambda p: p["config"]["kiln:live"].update(value="blue"),
    "default of the wrong type": lambda p: p["config"]["kiln:traffic"].update(default="100"),
    "array default of the wrong items": lambda p: p["config"]["kiln:environments"].update(
        default=[1, 2]),
    "typed key of another namespace": lambda p: p["config"].update(
        {"aws:region": {"type": "string", "default": "eu-west-1"}}),
    "virtualenv under poetry": lambda p: p["runtime"]["options"].update(toolchain="poetry"),
    "unknown runtime option": lambda p: p["runtime"]["options"].update(venv=".venv"),
    "an older CLI allowed": lambda p: p.update(requiredPulumiVersion=">=3.185.0"),
    "no version range": lambda p: p.pop("requiredPulumiVersion"),
}


@pytest.mark.parametrize("edit", PROJECT_BREAKAGES.values(), ids=PROJECT_BREAKAGES.keys())
def test_each_project_check_catches_its_breakage(edit: Any) -> None:
    assert project_problems(_broken(edit))


STACK_BREAKAGES = {
    "unknown top-level field": lambda s: s.update(secretsProvider="awskms://alias/kiln"),
    "salt that is not a string": lambda s: s.update(encryptionsalt=12),
    "missing required object": lambda s: s["config"].pop("kiln:blue"),
    "integer given as a string": lambda s: s["config"].update({"kiln:traffic": "100"}),
    "boolean given as a string": lambda s: s["config"].update({"kiln:retired": "yes"}),
    "object given as a string": lambda s: s["config"].update({"kiln:service": "web"}),
    "array of the wrong items": lambda s: s["config"].update({"kiln:environments": [1]}),
    "undeclared project key": lambda s: s["config"].update({"kiln:colour": "blue"}),
}


@pytest.mark.parametrize("edit", STACK_BREAKAGES.values(), ids=STACK_BREAKAGES.keys())
def test_each_stack_check_catches_its_breakage(edit: Any) -> None:
    stack = copy.deepcopy(_load(STACK_FILES[0]))
    edit(stack)
    assert stack_problems(PROJECT, stack)


def test_an_esc_environment_is_a_known_stack_field() -> None:
    # Pulumi accepts it (so the schema check passes); kiln refuses it in its own reader.
    stack = copy.deepcopy(_load(STACK_FILES[0]))
    stack["environment"] = ["kiln/dev"]
    assert stack_problems(PROJECT, stack) == []
