"""Builds the pluggy plugin manager a DataFlowKernel publishes its hooks through."""
from __future__ import annotations

import logging
import os
from typing import Any, Iterable, List, Optional

import pluggy

from parsl.plugins import hookspecs

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "parsl.plugins"


def _entry_point_plugins() -> List[Any]:
    from importlib.metadata import entry_points

    plugins = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            plugins.append((ep.name, ep.load()))
        except Exception as e:
            raise ImportError(f"parsl plugin entry point {ep.name!r} ({ep.value}) from "
                              f"{getattr(ep.dist, 'name', '?')} failed to load: {e}") from e
    return plugins


def make_plugin_manager(extra: Iterable[Any] = (),
                        use_entry_points: bool = True) -> pluggy.PluginManager:
    """A plugin manager with Parsl's hookspecs, installed plugins and ``extra`` objects.

    Raises pluggy's PluginValidationError naming the plugin and hook when a plugin
    implements a hook that does not exist or with wrong argument names.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if use_entry_points:
        for name, plugin in _entry_point_plugins():
            if pm.get_plugin(name) is None:
                pm.register(plugin, name=name)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    if os.environ.get("PARSL_TRACE_HOOKS"):
        trace_logger = logging.getLogger("parsl.plugins.trace")
        pm.trace.root.setwriter(lambda message: trace_logger.debug("%s", message.rstrip()))
        pm.enable_tracing()
    return pm


def hook_if_implemented(pm: pluggy.PluginManager, name: str) -> Optional[Any]:
    """A callable for hook ``name`` (called with keyword arguments), or None when no
    plugin implements it.

    For the per-task hooks: when exactly one plain implementation takes every argument
    of the spec, that implementation itself is returned, so each call skips pluggy's
    dispatch (about half of a cheap hook's cost). Otherwise, or with hook tracing on
    (``PARSL_TRACE_HOOKS``), it is pluggy's hook caller.
    """
    caller = getattr(pm.hook, name)
    impls = caller.get_hookimpls()
    if not impls:
        return None
    if len(impls) == 1 and not os.environ.get("PARSL_TRACE_HOOKS"):
        impl = impls[0]
        spec = caller.spec
        if (not impl.hookwrapper and not impl.wrapper and spec is not None
                and set(impl.argnames) == set(spec.argnames) and not impl.kwargnames):
            logger.debug("hook %s: calling its only implementation (%s) directly", name,
                         impl.plugin_name)
            return impl.function
    return caller
