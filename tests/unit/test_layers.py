"""The floor plan of ``infra/kiln``, read from the import graph of its source.

Every module belongs to one package, every package to one layer, and imports only go down
(or stay inside their own package). The rules are checked on every ``import`` statement —
late ones and ``TYPE_CHECKING`` ones included — so the top of a file, and this table, say
what depends on what. docs/architecture.md draws the same order.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "infra" / "kiln"

# Lowest first. A package may import its own modules and any package of a lower layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "__init__"),  # the error hierarchy and the version: the only root modules
    ("model",),              # what a stack is (pure)
    ("release",),            # records, signing, ledger, promotion/blue-green/drift rules (pure)
    ("project",),            # files of the project: stack files, layout, locks, revocations
    ("aws",),                # every boto3 call
    ("records",),            # the record store, keys, verification
    ("program", "preview"),  # the Pulumi program; running it under the mock monitor
    ("bake",),               # Packer
    ("ops", "audit", "evidence"),  # release operations; the policy audit; evidence
    ("local",),              # demo, stand-ins, the emulator mirror
    ("cli",),                # the kiln command: all user-facing text
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}

# Third-party packages each layer may not import, and the only places some may appear.
PURE = ("model", "release")
AWS_SDK = ("boto3", "botocore")
PULUMI_SDK = ("pulumi", "pulumi_aws", "pulumi_docker", "pulumi_policy")


@dataclass(frozen=True)
class Import:
    module: str      # importing module, e.g. kiln.ops.deploy
    target: str      # imported module (or name's module), e.g. kiln.records.store
    line: int

    @property
    def where(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> Iterator[Import]:
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield Import(name, full if full in MODULES else base, node.lineno)


ALL = [i for name in MODULES for i in imports_of(name)]
INTERNAL = [i for i in ALL if i.target == "kiln" or i.target.startswith("kiln.")]


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def top(target: str) -> str:
    return target.split(".", maxsplit=1)[0]


def test_every_package_has_a_layer() -> None:
    unplaced = sorted({package_of(m) for m in MODULES} - set(RANK))
    assert not unplaced, f"packages without a layer in LAYERS: {unplaced}"
    root_modules = sorted(m for m in MODULES if m.count(".") == 1 and
                          MODULES[m].parent == PACKAGE)
    assert root_modules == ["kiln.errors"], "errors.py is the only module at the root"


def test_imports_only_go_down() -> None:
    upward = [i.where for i in INTERNAL
              if package_of(i.module) != package_of(i.target)
              and RANK[package_of(i.target)] >= RANK[package_of(i.module)]]
    assert not upward, "imports that go up or sideways:\n" + "\n".join(upward)


@pytest.mark.parametrize("package", PURE)
def test_the_pure_core_imports_no_sdk(package: str) -> None:
    bad = [i.where for i in ALL if package_of(i.module) == package and (
        top(i.target) in AWS_SDK + PULUMI_SDK or i.target.startswith("kiln.aws"))]
    assert not bad, "\n".join(bad)


def test_only_cli_imports_local() -> None:
    bad = [i.where for i in INTERNAL if i.target.startswith("kiln.local")
           and package_of(i.module) not in ("cli", "local")]
    assert not bad, "\n".join(bad)


def test_aws_imports_nothing_above_it() -> None:
    bad = [i.where for i in INTERNAL if package_of(i.module) == "aws"
           and package_of(i.target) in ("ops", "cli", "audit", "local", "bake", "records")]
    assert not bad, "\n".join(bad)


def test_boto_lives_in_aws() -> None:
    # The CLI names botocore's exception types to report an AWS failure in one line.
    bad = [i.where for i in ALL if top(i.target) in AWS_SDK and package_of(i.module) != "aws"
           and not (package_of(i.module) == "cli" and i.target == "botocore.exceptions")]
    assert not bad, "\n".join(bad)


def test_pulumi_lives_in_the_program_and_its_runners() -> None:
    # The program and its mock run; the Pulumi CLI runner; the audit's client of the
    # engine's analyzer protocol (`kiln audit --analyzer`).
    allowed = {"program", "preview"}
    runners = {"kiln.ops.pulumi_cli", "kiln.audit.analyzer"}
    bad = [i.where for i in ALL if top(i.target) in PULUMI_SDK
           and package_of(i.module) not in allowed and i.module not in runners]
    assert not bad, "\n".join(bad)


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for i in INTERNAL:
        target = i.target if i.target in MODULES else None
        if target and target != i.module:
            graph[i.module].add(target)
    # A package's __init__ is imported with every module under it.
    for name in MODULES:
        parent = name.rpartition(".")[0]
        while parent:
            if parent in MODULES and parent != name:
                graph[name].add(parent)
            parent = parent.rpartition(".")[0]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that returns to its start, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None


def test_the_graph_is_read_from_the_source() -> None:
    # The rules above only mean something if the reader sees real edges.
    assert any(i.module == "kiln.ops.deploy" and i.target == "kiln.records.store"
               for i in INTERNAL)
    assert any(i.module == "kiln.cli.app" for i in INTERNAL)


def test_modules_stay_small() -> None:
    long = {m: n for m, p in MODULES.items()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 320}
    assert not long, f"modules over ~300 lines (split by concern): {long}"
