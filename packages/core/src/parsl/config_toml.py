"""Build a :class:`parsl.config.Config` from a TOML file.

A TOML config names components by their registry names (``parsl plugins`` lists them)
and gives their constructor parameters, nested as in Python: executor -> provider ->
launcher. It is loaded with ``parsl.load("site.toml")``, ``Config.from_toml("site.toml")``
or :func:`load_toml`::

    # site.toml
    retries = 2                          # any Config parameter, at the top level
    run_dir = "runinfo"                  # relative paths are relative to the working directory

    [[executors]]                        # one [[executors]] table per executor
    type = "HighThroughputExecutor"      # registry name of kind executor
    label = "htex_local"
    max_workers_per_node = 2

    [executors.provider]                 # the executor's `provider` parameter
    type = "LocalProvider"               # registry name of kind provider
    init_blocks = 1

    [executors.provider.launcher]        # the provider's `launcher` parameter
    type = "SingleNodeLauncher"

    [[executors.storage_access]]         # list of staging providers
    type = "HTTPInTaskStaging"

    [monitoring]                         # optional; type defaults to MonitoringHub
    hub_address = "127.0.0.1"

A table's key says which kind of component its ``type`` names: ``executors`` executor,
``provider`` provider, ``launcher`` launcher, ``storage_access`` staging (a list),
``remote_monitoring_radio`` monitoring radio, ``monitoring`` the monitoring hub. A
component without parameters can be given by name alone: ``launcher = "SrunLauncher"``.
Every other key is a constructor parameter, checked against the constructor's type
annotations exactly as the Python constructors check them; TOML arrays are accepted
where a tuple is expected.

Every error names the file, the table (``executors[0].provider``) and the field: TOML
syntax errors, unknown or uninstalled component names and unknown parameters raise
:class:`parsl.errors.ConfigurationError`; wrongly typed values raise
:class:`parsl.errors.BadParameter` (also a ConfigurationError).
"""
from __future__ import annotations

import inspect
import logging
import os
import sys
import typing
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Union

from parsl._validation import check_parameter
from parsl.errors import BadParameter, ConfigurationError, PluginNotInstalled, UnknownComponent

if TYPE_CHECKING:
    from parsl.config import Config

logger = logging.getLogger(__name__)

__all__ = ["config_from_dict", "load_toml"]

#: Parameter name -> kind of component its table (or list of tables) describes.
COMPONENT_KEYS: Dict[str, str] = {
    "executors": "executor",
    "provider": "provider",
    "launcher": "launcher",
    "storage_access": "staging",
    "remote_monitoring_radio": "monitoring_radio",
    "monitoring": "monitoring",
}

_DEFAULT_TYPES: Dict[str, str] = {"monitoring": "MonitoringHub"}


class _Context:
    """Where in which file a table is, for error messages."""

    def __init__(self, source: str, table: str = "") -> None:
        self.source = source
        self.table = table

    def child(self, key: Union[str, int]) -> _Context:
        if isinstance(key, int):
            return _Context(self.source, f"{self.table}[{key}]")
        return _Context(self.source, f"{self.table}.{key}" if self.table else key)

    def __str__(self) -> str:
        table = f"table {self.table}" if self.table else "top-level table"
        return f"{self.source}: {table}"


def _read_toml(path: str) -> Dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    with open(path, "rb") as f:
        try:
            return tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ConfigurationError(f"{path}: TOML syntax error: {e}") from e


def load_toml(path: Union[str, os.PathLike[str]]) -> Config:
    """The :class:`~parsl.config.Config` described by the TOML file at ``path``."""
    source = os.fspath(path)
    data = _read_toml(source)
    logger.debug("loading Parsl config from %s", source)
    return config_from_dict(data, source)


def config_from_dict(data: Mapping[str, Any], source: str = "<config>") -> Config:
    """The Config described by ``data`` (a parsed TOML document); ``source`` names it in errors."""
    from parsl.config import Config

    context = _Context(source)
    return typing.cast("Config", _construct(Config, _arguments(Config, data, context), context))


def _resolve(kind: str, name: str, context: _Context) -> Callable[..., Any]:
    try:
        if kind == "monitoring":
            import parsl.monitoring

            return typing.cast(Callable[..., Any], getattr(parsl.monitoring, name))
        from parsl.plugins import registry

        return typing.cast(Callable[..., Any], registry.load(kind, name))
    except (UnknownComponent, PluginNotInstalled, AttributeError) as e:
        raise ConfigurationError(f"{context}: field 'type': {e}") from e


def _build(kind: str, value: Any, context: _Context) -> Any:
    if isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"{context}: expected a table with a 'type' field naming a {kind}, "
            f"got {value!r}")
    type_name = value.get("type", _DEFAULT_TYPES.get(kind))
    if not isinstance(type_name, str):
        raise ConfigurationError(
            f"{context}: field 'type' must be a string naming a {kind} "
            f"(see `parsl plugins`), got {type_name!r}")
    cls = _resolve(kind, type_name, context)
    params = {k: v for k, v in value.items() if k != "type"}
    return _construct(cls, _arguments(cls, params, context), context)


def _build_value(kind: str, value: Any, context: _Context) -> Any:
    if kind in ("executor", "staging"):
        if not isinstance(value, list):
            raise ConfigurationError(
                f"{context}: expected an array of {kind} tables, got {value!r}")
        return [_build(kind, item, context.child(i)) for i, item in enumerate(value)]
    return _build(kind, value, context)


def _hints(cls: Callable[..., Any]) -> Dict[str, Any]:
    init = getattr(cls, "__init__", cls)
    try:
        return typing.get_type_hints(init)
    except Exception:
        logger.debug("annotations of %r are not all resolvable; checking the resolvable ones",
                     cls, exc_info=True)
        return {k: v for k, v in getattr(init, "__annotations__", {}).items()
                if not isinstance(v, str)}


def _arguments(cls: Callable[..., Any], params: Mapping[str, Any],
               context: _Context) -> Dict[str, Any]:
    owner = getattr(cls, "__name__", repr(cls))
    parameters = inspect.signature(cls).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    valid = [name for name, p in parameters.items()
             if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                           inspect.Parameter.KEYWORD_ONLY)]
    hints = _hints(cls)
    arguments: Dict[str, Any] = {}
    for key, given in params.items():
        value = given
        if key not in valid and not takes_any:
            raise ConfigurationError(
                f"{context}: unknown field {key!r} for {owner}; valid fields: "
                + ", ".join(valid))
        kind = COMPONENT_KEYS.get(key)
        if kind is not None:
            value = _build_value(kind, value, context.child(key))
        annotation = hints.get(key)
        if annotation is not None:
            value = _checked(owner, key, value, annotation, context)
        arguments[key] = value
    return arguments


def _checked(owner: str, key: str, value: Any, annotation: Any, context: _Context) -> Any:
    try:
        check_parameter(owner, key, value, annotation, where=str(context))
    except BadParameter:
        if not isinstance(value, list):
            raise
        as_tuple = tuple(value)
        try:
            check_parameter(owner, key, as_tuple, annotation, where=str(context))
        except BadParameter:
            pass
        else:
            return as_tuple
        raise
    return value


def _construct(cls: Callable[..., Any], arguments: Dict[str, Any], context: _Context) -> Any:
    owner = getattr(cls, "__name__", repr(cls))
    try:
        return cls(**arguments)
    except BadParameter as e:
        if e.where is None:
            e.where = str(context)
        raise
    except ConfigurationError as e:
        raise ConfigurationError(f"{context}: {owner}: {e}") from e
    except (TypeError, ValueError) as e:
        raise ConfigurationError(f"{context}: {owner}: {e}") from e
