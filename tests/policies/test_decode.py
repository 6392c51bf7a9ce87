"""The pack's fast Struct decoding gives exactly what the SDK's MessageToDict gives."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2
from hypothesis import given, settings
from hypothesis import strategies as st
from kiln_immutable.servicer import struct_to_dict

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
