"""Reading tags the way the AWS provider sends them."""

from __future__ import annotations

import pytest
from google.protobuf import json_format, struct_pb2
from kiln_immutable.values import tag
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def test_a_map_of_tags() -> None:
    tags = {"kiln:colour": "blue", "kiln:service": "web"}
    assert tag(tags, "kiln:colour") == "blue"
    assert tag(tags, "kiln:release") is None


def test_a_list_of_tags_where_the_last_entry_for_a_key_wins() -> None:
    tags = [{"key": "kiln:colour", "value": "blue", "propagateAtLaunch": True},
            "not a tag", {"value": "no key"}, {"key": 7, "value": "not a string key"},
            {"key": "kiln:colour", "value": "green"}]
    assert tag(tags, "kiln:colour") == "green"
    assert tag(tags, "kiln:service") is None
    assert tag([{"key": "kiln:service"}], "kiln:service") is None  # no value


@pytest.mark.parametrize("tags", [None, "", 3, []])
def test_no_tags(tags: object) -> None:
    assert tag(tags, "kiln:colour") is None


def _engine(value: dict[str, object]) -> object:
    struct = struct_pb2.Struct()
    struct.update(value)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


@pytest.mark.parametrize("tags", [
    {"kiln:colour": "blue", "owner": UNKNOWN},
    [{"key": "owner", "value": UNKNOWN}, {"key": "kiln:colour", "value": "blue"}],
])
def test_an_unknown_value_in_another_tag_is_not_read(tags: object) -> None:
    """During preview a tag's value may be unknown; only the asked-for one is read."""
    props = _engine({"tags": tags})
    assert tag(props["tags"], "kiln:colour") == "blue"
    with pytest.raises(UnknownValueError):
        tag(props["tags"], "owner")
