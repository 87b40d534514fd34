"""Fake installed distributions: ``*.dist-info`` folders written into tmp_path.

Discovery is tested without installing anything: a distribution is a folder with
``METADATA`` and ``entry_points.txt`` on ``sys.path``, exactly what pip leaves behind, plus
the plugin's modules next to it.
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional

import pytest

from parsl.plugins import aliases, registry

FakeDist = Callable[..., Path]


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDist]:
    """``fake_dist(name, version, entry_points={group: {name: value}}, modules={mod: src})``.

    Each call creates a separate sys.path entry holding one distribution and its modules.
    Modules and compatibility aliases imported during the test are forgotten afterwards.
    """
    before = set(sys.modules)
    counter = iter(range(1000))

    def make(name: str, version: str = "1.0",
             entry_points: Optional[Dict[str, Dict[str, str]]] = None,
             modules: Optional[Dict[str, str]] = None) -> Path:
        root = tmp_path / f"site{next(counter)}"
        info = root / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        sections = []
        for group, entries in (entry_points or {}).items():
            lines = "\n".join(f"{key} = {value}" for key, value in entries.items())
            sections.append(f"[{group}]\n{lines}\n")
        (info / "entry_points.txt").write_text("\n".join(sections))
        for module, source in (modules or {}).items():
            path = root / Path(*module.split("."))
            path.parent.mkdir(parents=True, exist_ok=True)
            for parent in path.relative_to(root).parents:
                if parent != Path("."):
                    (root / parent / "__init__.py").touch()
            path.with_suffix(".py").write_text(textwrap.dedent(source))
        monkeypatch.syspath_prepend(str(root))
        registry.refresh()
        return root

    registry.refresh()
    yield make
    monkeypatch.undo()
    for name in set(sys.modules) - before:
        module = sys.modules[name]
        is_alias = name.startswith("parsl.") and (
            module.__name__ != name or getattr(module, "__path__", None) == [])
        if name.startswith("fakeplug") or is_alias:
            del sys.modules[name]
            parent, _, child = name.rpartition(".")
            if parent in sys.modules and getattr(sys.modules[parent], child, None) is module:
                delattr(sys.modules[parent], child)
            aliases._package_aliases.pop(name, None)
    registry.refresh()


@pytest.fixture
def hide_distribution(monkeypatch: pytest.MonkeyPatch):
    """Make the registry see the environment as if ``name`` were not installed.

    The real distributions are installed in CI; hiding one from the registry's metadata
    scan reproduces a user's environment without it.
    """
    import importlib.metadata

    from parsl.plugins import registry

    def hide(name: str) -> None:
        real_all = importlib.metadata.distributions
        real_one = importlib.metadata.distribution

        def one(wanted: str):
            if registry.normalize_distribution(wanted) == name:
                raise importlib.metadata.PackageNotFoundError(wanted)
            return real_one(wanted)

        monkeypatch.setattr(importlib.metadata, "distributions",
                            lambda: [d for d in real_all() if d.metadata["Name"] != name])
        monkeypatch.setattr(importlib.metadata, "distribution", one)
        # Parsl-path aliases imported by earlier tests would still resolve.
        for module in [m for m in sys.modules if m.startswith(("parsl.executors.high_",
                                                               "parsl.providers.slurm",
                                                               "parsl.monitoring."))]:
            monkeypatch.delitem(sys.modules, module)
        registry.refresh()

    yield hide
    registry.refresh()
