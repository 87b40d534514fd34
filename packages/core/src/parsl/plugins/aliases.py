"""Parsl's module paths that now live in plugin distributions keep importing.

Parsl users import from paths such as ``parsl.providers.slurm.slurm`` or
``parsl.executors.high_throughput.executor``. Here those modules belong to plugin
distributions with their own import names (``parsl_hpc.slurm``, ``parsl_htex.executor``).
A distribution declares the mapping as entry points::

    [project.entry-points."parsl.compat_modules"]
    "parsl.executors.high_throughput.executor" = "parsl_htex.executor"

:func:`install` (called by ``import parsl``) adds an import finder that resolves such a
path to the real module object itself, so classes keep one identity whichever path
imported them. Packages above a declared path (``parsl.executors.high_throughput``) are
created as empty packages if no distribution declares them. A path that belongs to a known
Parsl distribution which is not installed raises :class:`parsl.errors.PluginNotInstalled`,
an ImportError naming ``pip install <distribution>``.

The finder is consulted only for ``parsl.*`` names that no regular finder found, so it
adds nothing to ordinary imports and reads installed metadata only on such a miss.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import logging
import sys
import threading
from types import ModuleType
from typing import TYPE_CHECKING, Dict, Mapping, Optional, Sequence

from parsl.errors import PluginNotInstalled

if TYPE_CHECKING:
    from parsl.plugins.registry import Component

logger = logging.getLogger(__name__)

_PREFIX = "parsl."
_install_lock = threading.Lock()

#: alias path of an aliased *package* -> its real package name; submodules of the alias
#: are resolved below the real package so no module is ever imported twice.
_package_aliases: Dict[str, str] = {}


class _AliasLoader(importlib.abc.Loader):
    """Makes the alias name refer to the already importable real module."""

    def __init__(self, real_name: str) -> None:
        self.real_name = real_name
        self._real_spec: Optional[importlib.machinery.ModuleSpec] = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.real_name)
        self._real_spec = module.__spec__
        if hasattr(module, "__path__"):
            _package_aliases[spec.name] = self.real_name
        logger.debug("compat module %s resolves to %s", spec.name, self.real_name)
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the real module was executed under its own name.

        The import system has just set the alias spec on the module; the real one is put
        back so ``importlib.reload`` and tools reading ``__spec__`` see the real module.
        """
        if self._real_spec is not None:
            module.__spec__ = self._real_spec


class _SyntheticPackageLoader(importlib.abc.Loader):
    """An empty package standing for a Parsl package path above declared modules."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
        return None

    def exec_module(self, module: ModuleType) -> None:
        module.__doc__ = (f"Compatibility package {module.__name__!r}: its modules are "
                          "provided by installed Parsl plugin distributions.")


def _alias_spec(fullname: str, real_name: str) -> importlib.machinery.ModuleSpec:
    return importlib.machinery.ModuleSpec(fullname, _AliasLoader(real_name))


def _declared_spec(declared: Mapping[str, Component], fullname: str
                   ) -> Optional[importlib.machinery.ModuleSpec]:
    """The spec of a path the installed distributions declare (an alias of the real
    module), or of a package path above declared ones (an empty package); else None."""
    component = declared.get(fullname)
    if component is not None:
        return _alias_spec(fullname, component.value.strip())
    below = fullname + "."
    if any(alias.startswith(below) for alias in declared):
        return importlib.machinery.ModuleSpec(fullname, _SyntheticPackageLoader(),
                                              is_package=True)
    return None


class _AliasedPackageChildFinder(importlib.abc.MetaPathFinder):
    """First on ``sys.meta_path``: submodules of an aliased package map into the real one.

    Without it the regular path finder would find ``parsl.executors.taskvine.x`` through
    the real package's ``__path__`` and execute that file a second time under the alias
    name. Everything else is rejected with one string comparison.
    """

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None,
                  target: Optional[ModuleType] = None
                  ) -> Optional[importlib.machinery.ModuleSpec]:
        if not fullname.startswith(_PREFIX) or not _package_aliases:
            return None
        parent, _, child = fullname.rpartition(".")
        real_parent = _package_aliases.get(parent)
        if real_parent is None:
            return None
        from parsl.plugins import registry

        # A declared path wins; so does a Parsl package path between an aliased package
        # and a module declared deeper (parsl.monitoring.visualization.plots above
        # ...plots.default.workflow_plots).
        spec = _declared_spec(registry.compat_modules(), fullname)
        return spec if spec is not None else _alias_spec(fullname, f"{real_parent}.{child}")


class _CompatModuleFinder(importlib.abc.MetaPathFinder):
    """Last on ``sys.meta_path``: ``parsl.*`` paths no regular finder found."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None,
                  target: Optional[ModuleType] = None
                  ) -> Optional[importlib.machinery.ModuleSpec]:
        if not fullname.startswith(_PREFIX):
            return None
        from parsl.plugins import known, registry

        conflict = registry.compat_module_conflict(fullname)
        if conflict is not None:
            raise ImportError(str(conflict), name=fullname)
        spec = _declared_spec(registry.compat_modules(), fullname)
        if spec is not None:
            return spec
        distribution = known.distribution_for_module(fullname)
        if distribution is None:
            return None
        if not registry.is_installed(distribution):
            raise PluginNotInstalled(fullname, "module", distribution, fullname)
        raise ModuleNotFoundError(
            f"No module named {fullname!r}: it belongs to {distribution}, which is installed "
            f"but does not map it to a module in its {registry.COMPAT_MODULES_GROUP!r} entry "
            "points", name=fullname)


def public_name(cls: type) -> str:
    """``module.Class`` as Parsl users know it: a class from a plugin's module is named
    through the ``parsl.*`` path its distribution maps to that module (so HTEX is
    ``parsl.executors.high_throughput.executor.HighThroughputExecutor``)."""
    from parsl.plugins import registry

    module = cls.__module__
    for alias, component in sorted(registry.compat_modules().items()):
        if component.value.strip() == module:
            module = alias
            break
    return f"{module}.{cls.__qualname__}"


def install() -> None:
    """Add the compatibility finders to ``sys.meta_path``; calling it again does nothing."""
    with _install_lock:
        if any(isinstance(f, _CompatModuleFinder) for f in sys.meta_path):
            return
        sys.meta_path.insert(0, _AliasedPackageChildFinder())
        sys.meta_path.append(_CompatModuleFinder())


def uninstall() -> None:
    """Remove the finders again (for tests); modules already imported stay imported."""
    with _install_lock:
        sys.meta_path[:] = [f for f in sys.meta_path
                            if not isinstance(f, (_CompatModuleFinder,
                                                  _AliasedPackageChildFinder))]
        _package_aliases.clear()
