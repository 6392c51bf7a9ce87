"""The pack's fast Struct decoding gives exactly what the SDK's decoding gives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import given, settings
from hypothesis import strategies as st
from kiln_immutable.servicer import LazyProperties, struct_to_dict
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

SCALARS = st.one_of(st.none(), st.booleans(), st.text(max_size=20),
                    st.integers(min_value=-(2**53), max_value=2**53),
                    st.floats(allow_nan=False, allow_infinity=False))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=25)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=10), VALUES, max_size=6))
def test_struct_to_dict_matches_message_to_dict(value: dict[str, Any]) -> None:
    struct = struct_pb2.Struct()
    struct.update(value)
    assert struct_to_dict(struct) == json_format.MessageToDict(struct)


def test_engine_markers_survive() -> None:
    struct = struct_pb2.Struct()
    struct.update({"userData": {"4dabf18193072939515e22adb298388d":
                                "1b47061264138c4ac30d75fd1eb44270", "value": "x"},
                   "port": 8080, "tags": {"kiln:colour": "blue"}})
    assert struct_to_dict(struct) == json_format.MessageToDict(struct)


UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SIG, SECRET = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
ENGINE_VALUES = st.recursive(
    st.one_of(SCALARS, st.just(UNKNOWN)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4),
        inner.map(lambda v: {SIG: SECRET, "value": v})),
    max_leaves=25)


def read(value: Any) -> Any:
    """Everything a policy can read from decoded properties, as plain values (an unknown
    value reads as the marker ``("unknown",)``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return {key: _read_item(value, key) for key in value}
    if isinstance(value, Sequence):
        return [_read_item(value, i) for i in range(len(value))]
    return value


def _read_item(container: Any, key: Any) -> Any:
    try:
        return read(container[key])
    except UnknownValueError:
        return ("unknown",)


def test_plain_values_are_plain_and_special_ones_go_through_the_sdk() -> None:
    plain, special = struct_pb2.Struct(), struct_pb2.Struct()
    plain.update({"tags": {"a": "b"}, "ports": [22]})
    special.update({"tags": {"a": UNKNOWN}})
    assert type(LazyProperties(plain)["tags"]) is dict
    assert type(LazyProperties(plain)["ports"]) is list
    decoded = LazyProperties(special)["tags"]
    assert not isinstance(decoded, dict)
    with pytest.raises(UnknownValueError):
        decoded["a"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=10), ENGINE_VALUES, max_size=6), st.randoms())
def test_lazy_properties_read_as_the_sdk_decodes_them(value: dict[str, Any], rnd: Any) -> None:
    """Whatever is read first (a plain value, an unknown, a secret), every read of the lazy
    properties gives what the SDK's decoding gives."""
    struct = struct_pb2.Struct()
    struct.update(value)
    sdk = unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))
    lazy = LazyProperties(struct)
    keys = list(value)
    rnd.shuffle(keys)
    for key in keys:  # by [] or by get(), in any order
        if rnd.random() < 0.5:
            assert _read_item(lazy, key) == _read_item(sdk, key)
        else:
            assert _get_item(lazy, key) == _get_item(sdk, key)
        assert lazy.get(key + "\x00absent", "default") == "default"
    assert read(lazy) == read(sdk)
    assert len(lazy) == len(value)


def _get_item(container: Any, key: str) -> Any:
    try:
        return read(container.get(key))
    except UnknownValueError:
        return ("unknown",)


def test_lazy_properties_decode_only_what_is_read() -> None:
    struct = struct_pb2.Struct()
    struct.update({"tags": {"kiln:colour": "blue"}, "userData": UNKNOWN, "port": 8080})
    lazy = LazyProperties(struct)
    assert lazy["tags"] == {"kiln:colour": "blue"}
    assert lazy.get("port") == 8080
    assert lazy.get("missing", "default") == "default"
    assert "missing" not in lazy and "userData" in lazy
    assert len(struct.fields) == 3  # a missing key was read, not added
    with pytest.raises(UnknownValueError):
        lazy["userData"]
    assert lazy["tags"] == {"kiln:colour": "blue"}  # still readable after the SDK takes over
