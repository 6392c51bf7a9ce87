"""Read and write the project file and ``stacks/Pulumi.<stack>.yaml``.

Stack files are edited by kiln and reviewed by humans, so writes keep comments and key
order (ruamel.yaml round-trip), are validated through the settings parser first, and
replace the file atomically: a crash never leaves half a file.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent

from kiln.errors import KilnError
from kiln.model import settings as settings_mod
from kiln.model.stack import DEFAULT_ENVIRONMENTS, STACK_NAME, StackSettings
from kiln.project import layout
from kiln.project.files import ReadError, atomic_write, read_text

PROJECT_FILE = layout.PROJECT_FILE


class StackFileError(KilnError, ValueError):
    """A project or stack file is missing or unreadable (message is one line)."""


@dataclass(frozen=True)
class Project:
    root: Path
    name: str
    main: Path
    stack_dir: Path
    # key → declaration ({type, description, default, items}) as written in Pulumi.yaml
    declarations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # plain project-level values (`aws:region: eu-west-1`)
    values: dict[str, Any] = field(default_factory=dict)

    def stack_file(self, stack: str) -> Path:
        return self.stack_dir / f"Pulumi.{stack}.yaml"

    def stacks(self) -> list[str]:
        """Stack names with a file, in the project's environment order, then the rest."""
        found = sorted(p.name[len("Pulumi."):-len(".yaml")]
                       for p in self.stack_dir.glob("Pulumi.*.yaml"))
        order = [s for s in self.environments() if s in found]
        return order + [s for s in found if s not in order]

    def environments(self) -> list[str]:
        declared = self.declarations.get(settings_mod.key("environments"), {})
        value = self.values.get(settings_mod.key("environments"), declared.get("default"))
        return list(value or DEFAULT_ENVIRONMENTS)

    def defaults(self) -> dict[str, Any]:
        """Config every stack inherits: declared defaults, then plain project values."""
        merged = {k: d["default"] for k, d in self.declarations.items() if "default" in d}
        merged.update(self.values)
        return merged


def _yaml(typ: str = "safe") -> YAML:
    yaml = YAML(typ=typ)
    if typ == "rt":
        yaml.preserve_quotes = True
        yaml.indent(mapping=2, sequence=4, offset=2)
        yaml.width = 4096
    return yaml


# Stack and project files are small and flat; deeper nesting is an attack on the parser
# (libyaml's time grows with depth, and its loader can overflow the C stack).
MAX_DEPTH = 32


def _check_events(path: Path, text: str) -> None:
    """Refuse anchors and aliases (an alias bomb of ten lines expands to 10⁹ nodes) and
    deep nesting, reading parser events only — nothing is built — and stopping at the
    first offence."""
    depth = 0
    for event in _yaml().parse(text):
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None):
            mark = event.start_mark
            raise StackFileError(f"{path}: line {mark.line + 1} uses a YAML anchor or alias "
                                 "(&name / *name); kiln does not expand them in stack and "
                                 "project files, write the value out")
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise StackFileError(f"{path}: line {event.start_mark.line + 1} nests deeper "
                                     f"than {MAX_DEPTH} levels")
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def _load(path: Path, typ: str = "safe") -> Any:
    try:
        text = read_text(path)
    except ReadError as error:
        raise StackFileError(str(error)) from None
    try:
        _check_events(path, text)
        return _yaml(typ).load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise StackFileError(f"{path}:{where} is not valid YAML ({problem})") from None


def _config_section(path: Path, data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``config`` mapping of a project or stack file, every key a string."""
    config = data.get("config") or {}
    if not isinstance(config, Mapping):
        raise StackFileError(f"{path}: 'config' must be a mapping of keys to values, not "
                             f"{type(config).__name__}")
    for name in config:
        if not isinstance(name, str) or not name:
            raise StackFileError(f"{path}: config key {name!r} is not a name")
    return config


def find_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` (default: cwd) holding Pulumi.yaml."""
    root = layout.project_root(None if start is None else str(start))
    if root is None:
        here = (start or Path.cwd()).resolve()
        raise StackFileError(f"no {PROJECT_FILE} in {here} or any parent directory "
                             "(run kiln inside the project, or set KILN_PROJECT_DIR)")
    return Path(root)


def load_project(root: Path | None = None) -> Project:
    root = find_root() if root is None else root
    path = root / PROJECT_FILE
    data = _load(path)
    if not isinstance(data, Mapping) or not isinstance(data.get("name"), str) \
            or not data["name"]:
        raise StackFileError(f"{path}: expected a Pulumi project with a name")
    for field_name in ("main", "stackConfigDir"):
        if not isinstance(data.get(field_name) or "", str):
            raise StackFileError(f"{path}: {field_name} must be a path, not "
                                 f"{type(data[field_name]).__name__}")
    declarations: dict[str, dict[str, Any]] = {}
    values: dict[str, Any] = {}
    for name, entry in _config_section(path, data).items():
        full = name if ":" in name else f"{data['name']}:{name}"
        if isinstance(entry, Mapping) and ("type" in entry or "default" in entry
                                           or "description" in entry):
            declarations[full] = dict(entry)
            if "value" in entry:
                values[full] = entry["value"]
        else:
            values[full] = entry
    return Project(root=root, name=str(data["name"]),
                   main=root / str(data.get("main") or "."),
                   stack_dir=root / str(data.get("stackConfigDir") or "."),
                   declarations=declarations, values=values)


def check_stack_name(project: Project, stack: str) -> None:
    if not STACK_NAME.fullmatch(stack or ""):
        raise StackFileError(f"{stack!r} is not a stack name (letters, digits, '_', '.', '-')")
    path = project.stack_file(stack)
    if path.is_dir():
        raise StackFileError(f"{path}: is a directory, expected the stack file of {stack!r}")
    if not path.is_file():
        known = ", ".join(project.stacks()) or "none"
        raise StackFileError(f"unknown stack {stack!r}: no "
                             f"{project.stack_file(stack).relative_to(project.root)} "
                             f"(stacks: {known})")


def refuse_environment(path: Path, environment: Any) -> None:
    """Refuse a stack file that imports Pulumi ESC environments.

    The engine merges an environment's values into the stack's config when it runs; kiln
    reads the file alone and cannot open ESC, so `plan`, `audit` and every operation would
    see a different stack than `pulumi up` does.
    """
    if not environment:
        return
    imports = environment
    if isinstance(environment, Mapping):
        imports = environment.get("imports", list(environment))
    names = ", ".join(map(str, imports)) if isinstance(imports, list) else str(imports)
    raise StackFileError(f"{path}: imports ESC environment(s) {names}, whose values kiln cannot "
                         "read; put those values under 'config' in the stack file instead")


def read_config(project: Project, stack: str) -> dict[str, Any]:
    """The stack's config as the engine would see it: project defaults, then the file."""
    check_stack_name(project, stack)
    path = project.stack_file(stack)
    data = _load(path)
    if data is None:
        data = {}
    if not isinstance(data, Mapping) or not isinstance(data.get("config") or {}, Mapping):
        raise StackFileError(f"{path}: expected a mapping with a 'config' section")
    refuse_environment(path, data.get("environment"))
    config = project.defaults()
    for name, value in _config_section(path, data).items():
        full = name if ":" in name else f"{project.name}:{name}"
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            raise StackFileError(f"{path}: {full} is an encrypted secret; kiln reads no "
                                 "secrets from stack files")
        config[full] = value
    return config


def load_settings(project: Project, stack: str) -> StackSettings:
    return settings_mod.parse(read_config(project, stack), stack)


def update_config(project: Project, stack: str, changes: Mapping[str, Any]) -> None:
    """Set config values (``{"kiln:live": "green"}``; dotted keys reach into objects),
    keeping comments and order, validating the result, replacing the file atomically."""

    read_config(project, stack)  # the file's shape is checked before it is edited
    path = project.stack_file(stack)
    document = _load(path, "rt")
    if document is None:
        document = CommentedMap()
    if document.get("config") is None:
        document["config"] = CommentedMap()
    config = document["config"]
    for dotted, value in changes.items():
        full, *inner = dotted.split(".")
        if not inner:
            config[full] = value
            continue
        node = config.setdefault(full, {})
        for part in inner[:-1]:
            node = node.setdefault(part, {})
        node[inner[-1]] = value
    merged = project.defaults()
    merged.update({k: _plain(v) for k, v in config.items()})
    settings_mod.parse(merged, stack)
    buffer = io.StringIO()
    _yaml("rt").dump(document, buffer)
    atomic_write(path, buffer.getvalue())


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
