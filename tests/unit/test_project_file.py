"""Pulumi.yaml declares every kiln: key, with the defaults settings.py applies."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from kiln.model import settings

ROOT = Path(__file__).resolve().parents[2]
PROJECT = YAML(typ="safe").load((ROOT / "Pulumi.yaml").read_text())
TYPES = {"string", "integer", "boolean", "array", "object"}


def test_project_layout() -> None:
    assert PROJECT["name"] == "kiln"
    assert PROJECT["runtime"]["name"] == "python"
    assert PROJECT["main"] == "infra/"
    assert PROJECT["stackConfigDir"] == "stacks"
    assert (ROOT / "infra" / "__main__.py").is_file()


def test_every_key_is_declared_with_type_and_description() -> None:
    declared = {k.split(":", 1)[1]: v for k, v in PROJECT["config"].items()
                if k.startswith("kiln:")}
    assert set(declared) == set(settings.TOP_LEVEL)
    for name, declaration in declared.items():
        assert declaration["type"] in TYPES, name
        assert len(declaration["description"]) > 20, name
        if declaration["type"] == "array":
            assert "type" in declaration["items"], name


def test_defaults_match_settings() -> None:
    for name, required in settings.TOP_LEVEL.items():
        declaration = PROJECT["config"][f"kiln:{name}"]
        if required:
            assert "default" not in declaration, f"{name} is required: no default"
            assert declaration["description"].startswith("Required."), name
        else:
            assert declaration["default"] == settings.DEFAULTS[name], name


def test_environment_order_is_project_config() -> None:
    assert PROJECT["config"]["kiln:environments"]["default"] == ["dev", "staging", "prod"]
