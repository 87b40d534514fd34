"""The component registry: every installed executor, provider, launcher, ... by public name.

Components are declared as Python entry points, one group per kind (:data:`KINDS`). Core
declares its own built-ins (``ThreadPoolExecutor``, ``LocalProvider``, the pickle and dill
serializers, ...) in the same groups a third-party distribution uses, so there is one
lookup path for everything. A distribution declares, in its ``pyproject.toml``::

    [project.entry-points."parsl.providers"]
    SlurmProvider = "parsl_hpc.slurm:SlurmProvider"

The entry point name is the public class name users write. Listing components
(:func:`components`) reads installed metadata only and never imports plugin code;
:func:`load` imports a component on first use and caches it.

Lookup errors say what to do: an unknown name lists the installed names of that kind; a
name that belongs to a known Parsl distribution which is not installed raises
:class:`parsl.errors.PluginNotInstalled` (an ImportError) naming ``pip install <dist>``;
a name claimed by two distributions raises :class:`parsl.errors.PluginConflict` naming
both when that name is loaded, while every other name keeps working.
"""
from __future__ import annotations

import importlib
import logging
import re
import threading
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Set, Tuple

from parsl.errors import (
    ComponentNotProvided,
    PluginConflict,
    PluginNotInstalled,
    UnknownComponent,
)
from parsl.plugins import known

logger = logging.getLogger(__name__)

#: kind -> entry-point group.
KINDS: Dict[str, str] = {
    "executor": "parsl.executors",
    "provider": "parsl.providers",
    "launcher": "parsl.launchers",
    "staging": "parsl.staging",
    "serializer": "parsl.serializers",
    "monitoring_radio": "parsl.monitoring_radios",
}

#: Group in which a distribution maps a Parsl module path users import (the entry point
#: name, e.g. ``parsl.providers.slurm.slurm``) to its real module (the value).
COMPAT_MODULES_GROUP = "parsl.compat_modules"

#: Group of pluggy hook-implementation modules (see :mod:`parsl.plugins.manager`); listed
#: by ``parsl plugins`` under the kind ``hooks``.
HOOKS_GROUP = "parsl.plugins"

#: kind -> the namespace module users import names of that kind from (used in messages).
NAMESPACES: Dict[str, str] = {
    "executor": "parsl.executors",
    "provider": "parsl.providers",
    "launcher": "parsl.launchers",
    "staging": "parsl.data_provider",
    "serializer": "parsl.serialize",
    "monitoring_radio": "parsl.monitoring",
}

_GROUP_TO_KIND: Dict[str, str] = {group: kind for kind, group in KINDS.items()}
_GROUP_TO_KIND[HOOKS_GROUP] = "hooks"
_GROUP_TO_KIND[COMPAT_MODULES_GROUP] = "compat_module"
_KIND_ORDER: Dict[str, int] = {kind: i for i, kind in enumerate(_GROUP_TO_KIND.values())}


class Component(NamedTuple):
    """One entry point: ``name`` of ``kind`` is ``value`` (``module:attr``) in ``distribution``."""

    kind: str
    name: str
    value: str
    distribution: str
    version: str


class _Index(NamedTuple):
    """Everything the installed metadata declares, grouped for lookups."""

    by_kind: Dict[str, Dict[str, List[Component]]]
    distributions: Set[str]


_lock = threading.RLock()
_index: Optional[_Index] = None
_loaded: Dict[Tuple[str, str], Any] = {}


def normalize_distribution(name: str) -> str:
    """The PEP 503 form of a distribution name, for comparing ``parsl_htex`` and ``parsl-htex``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _scan() -> _Index:
    from importlib.metadata import distributions

    by_kind: Dict[str, Dict[str, List[Component]]] = {kind: {} for kind in _GROUP_TO_KIND.values()}
    seen: Set[str] = set()
    for dist in distributions():
        text = dist.read_text("entry_points.txt")
        if not text or "[parsl." not in text:
            continue
        dist_name = dist.metadata["Name"] or "(unnamed distribution)"
        normalized = normalize_distribution(dist_name)
        if normalized in seen:
            # The same distribution found twice on sys.path (e.g. an in-tree egg-info next
            # to an installed dist-info): the first one wins, as for importlib.metadata.
            continue
        seen.add(normalized)
        version = dist.version or "?"
        for ep in dist.entry_points:
            kind = _GROUP_TO_KIND.get(ep.group)
            if kind is None:
                continue
            component = Component(kind, ep.name, ep.value, dist_name, version)
            by_kind[kind].setdefault(ep.name, []).append(component)
    logger.debug("plugin registry scanned: %d distributions declare Parsl entry points",
                 len(seen))
    return _Index(by_kind, seen)


def _get_index() -> _Index:
    global _index
    index = _index
    if index is None:
        with _lock:
            if _index is None:
                _index = _scan()
            index = _index
    return index


def refresh() -> None:
    """Forget what was scanned and loaded; the next call reads installed metadata again.

    Call it after installing or uninstalling a distribution in a running process.
    """
    global _index
    with _lock:
        _index = None
        _loaded.clear()
    import importlib.metadata

    importlib.invalidate_caches()
    # importlib.metadata caches one directory listing object per path entry (private API,
    # so only cleared where it exists); its listings are also keyed by mtime.
    fast_path_new = getattr(getattr(importlib.metadata, "FastPath", None), "__new__", None)
    cache_clear = getattr(fast_path_new, "cache_clear", None)
    if cache_clear is not None:
        cache_clear()


def _check_kind(kind: str) -> str:
    group = KINDS.get(kind)
    if group is None:
        raise ValueError(f"unknown component kind {kind!r}; kinds are: {', '.join(KINDS)}")
    return group


def _sorted(items: List[Component]) -> List[Component]:
    return sorted(items, key=lambda c: (_KIND_ORDER.get(c.kind, 99), c.name.lower(),
                                        c.distribution))


def components(kind: Optional[str] = None) -> List[Component]:
    """Every installed component of ``kind`` (all kinds when None), sorted by kind and name.

    Reads metadata only: no plugin module is imported. A name claimed by several
    distributions appears once per claimant; see :func:`conflicts`.
    """
    index = _get_index()
    kinds = [kind] if kind is not None else list(KINDS)
    for k in kinds:
        _check_kind(k)
    return _sorted([c for k in kinds for claims in index.by_kind[k].values() for c in claims])


def hook_plugins() -> List[Component]:
    """Installed pluggy hook-implementation modules (group ``parsl.plugins``), not imported."""
    index = _get_index()
    return _sorted([c for claims in index.by_kind["hooks"].values() for c in claims])


def conflicts(kind: Optional[str] = None) -> List[PluginConflict]:
    """One :class:`PluginConflict` per name that several installed distributions claim."""
    index = _get_index()
    kinds = [kind] if kind is not None else [*KINDS, "compat_module"]
    found = []
    for k in kinds:
        for name, claims in sorted(index.by_kind[k].items()):
            if len(claims) > 1:
                found.append(_conflict(k, name, claims))
    return found


def _conflict(kind: str, name: str, claims: List[Component]) -> PluginConflict:
    return PluginConflict(kind, name,
                          [f"{c.distribution} {c.version} ({c.value})" for c in claims])


def is_installed(distribution: str) -> bool:
    """Whether ``distribution`` is installed (any distribution, with or without plugins)."""
    if normalize_distribution(distribution) in _get_index().distributions:
        return True
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import distribution as find_distribution

    try:
        find_distribution(distribution)
    except PackageNotFoundError:
        return False
    return True


def names(kind: str) -> List[str]:
    """The installed public names of ``kind``, sorted."""
    _check_kind(kind)
    return sorted(_get_index().by_kind[kind])


def _import_value(component: Component) -> Any:
    module_name, _, attr_path = component.value.partition(":")
    module_name = module_name.strip()
    try:
        value: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise ImportError(
            f"{component.kind} {component.name!r} from {component.distribution} "
            f"{component.version} could not be imported from {component.value!r}: {e}"
        ) from e
    for part in filter(None, attr_path.strip().split(".")):
        try:
            value = getattr(value, part)
        except AttributeError as e:
            raise ImportError(
                f"{component.kind} {component.name!r} from {component.distribution} "
                f"{component.version}: entry point {component.value!r} names no object "
                f"({e})") from e
    return value


def load(kind: str, name: str) -> Any:
    """The object registered as ``name`` of ``kind``, imported on first use and cached.

    Raises :class:`PluginConflict` when several installed distributions claim ``name``,
    :class:`PluginNotInstalled` when ``name`` belongs to a known Parsl distribution that
    is not installed, and :class:`UnknownComponent` (listing installed names) otherwise.
    """
    key = (kind, name)
    try:
        return _loaded[key]
    except KeyError:
        pass
    _check_kind(kind)
    claims = _get_index().by_kind[kind].get(name)
    if not claims:
        raise _missing(kind, name)
    if len(claims) > 1:
        raise _conflict(kind, name, claims)
    value = _import_value(claims[0])
    with _lock:
        _loaded[key] = value
    logger.debug("loaded %s %s from %s", kind, name, claims[0].distribution)
    return value


def _missing(kind: str, name: str) -> Exception:
    distribution = known.distribution_for_name(kind, name)
    if distribution is not None and not is_installed(distribution):
        return PluginNotInstalled(name, kind, distribution, NAMESPACES[kind])
    return UnknownComponent(kind, name, names(kind))


def _not_provided(kind: str, name: str, module_name: str) -> Optional[ComponentNotProvided]:
    """The error for a Parsl name the installed distributions lack, None for other names.

    Unknown names stay AttributeErrors (``hasattr`` must keep working); names users copy
    from Parsl's documentation get an ImportError that says why they are missing.
    """
    if known.is_not_provided(kind, name):
        return ComponentNotProvided(
            name, kind, module_name, "it is part of Parsl but no distribution of this "
            "project provides it; see docs/compatibility.md")
    distribution = known.distribution_for_name(kind, name)
    if distribution is not None:
        return ComponentNotProvided(
            name, kind, module_name, f"it belongs to {distribution}, which is installed but "
            f"does not register it; upgrade it with: pip install -U {distribution}")
    return None


def compat_modules() -> Dict[str, Component]:
    """Declared compatibility module paths -> the component naming the real module.

    Paths claimed by several distributions are left out; :func:`compat_module_conflict`
    reports them.
    """
    index = _get_index()
    return {path: claims[0] for path, claims in index.by_kind["compat_module"].items()
            if len(claims) == 1}


def compat_module_conflict(path: str) -> Optional[PluginConflict]:
    """The conflict for ``path`` if several distributions declare it, else None."""
    claims = _get_index().by_kind["compat_module"].get(path, [])
    return _conflict("compat_module", path, claims) if len(claims) > 1 else None


def namespace(kind: str, module_name: str,
              extra: Optional[Dict[str, Callable[[], Any]]] = None,
              ) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` resolving public names of ``kind``.

    Used by the compatibility packages (``parsl.executors``, ``parsl.providers``, ...) so
    ``from parsl.providers import SlurmProvider`` finds whatever distribution provides it.
    ``extra`` maps further public names to zero-argument functions returning them.
    ``__all__`` is computed on access, so importing the package scans nothing.
    """
    extras = dict(extra or {})

    def __getattr__(name: str) -> Any:
        if name == "__all__":
            return sorted({*names(kind), *extras})
        if name.startswith("__"):
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        if name in extras:
            return extras[name]()
        try:
            return load(kind, name)
        except UnknownComponent as e:
            not_provided = _not_provided(kind, name, module_name)
            if not_provided is not None:
                raise not_provided from None
            raise AttributeError(
                f"module {module_name!r} has no attribute {name!r}: {e}") from None

    def __dir__() -> List[str]:
        import sys

        module = sys.modules[module_name]
        return sorted({*vars(module), *names(kind), *extras})

    return __getattr__, __dir__
