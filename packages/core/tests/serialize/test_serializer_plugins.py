"""Serializers registered by installed distributions, found through the registry."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

from parsl.plugins import registry
from parsl.serialize import (
    deserialize,
    facade,
    register_method_for_data,
    serialize,
    unregister_serializer,
)

PLUGIN = """
import pickle
from parsl.serialize.base import SerializerBase

class UpperSerializer(SerializerBase):
    identifier = b"up"

    def serialize(self, data):
        return pickle.dumps(data)

    def deserialize(self, body):
        return pickle.loads(body)
"""


@pytest.fixture
def installed_serializer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    info = tmp_path / "parsl_upper-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: parsl-upper\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[parsl.serializers]\nupper = fakeplug_upper:UpperSerializer\n")
    (tmp_path / "fakeplug_upper.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(facade, "_plugins_loaded", False)
    registry.refresh()
    yield
    monkeypatch.undo()
    facade._by_identifier.pop(b"up", None)
    sys.modules.pop("fakeplug_upper", None)
    registry.refresh()


def test_core_serializers_are_registered_like_third_party_ones() -> None:
    assert {"pickle", "dill", "dill_callable"} <= set(registry.names("serializer"))


def test_serializer_selected_by_registry_name(installed_serializer: None) -> None:
    register_method_for_data("upper")
    try:
        assert serialize({"k": 1}).startswith(b"up\n")
    finally:
        unregister_serializer("upper")


def test_receiver_finds_installed_serializer_by_identifier(installed_serializer: None) -> None:
    assert deserialize(b"up\n" + __import__("pickle").dumps([4, 5])) == [4, 5]
