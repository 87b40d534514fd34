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
    """The hook caller for ``name``, or None when no plugin implements it."""
    caller = getattr(pm.hook, name)
    return caller if caller.get_hookimpls() else None
