"""The launchers that need nothing but a POSIX shell on the node.

``SimpleLauncher`` hands the command to the provider untouched: the batch system or the
command itself is responsible for starting one copy per node. ``SingleNodeLauncher`` starts
several copies of the command on the one node the job script runs on, which is how a
block gets ``tasks_per_node`` worker pools without a parallel launcher such as ``srun``.

Launchers in other packages (``SrunLauncher``, ``MpiExecLauncher``, ...) follow the same
contract: ``__call__`` returns shell text for the job script, and never runs anything.
"""
from __future__ import annotations

import logging
from typing import Any

from parsl._validation import validate_init
from parsl.launchers.base import Launcher

logger = logging.getLogger(__name__)

__all__ = ["SimpleLauncher", "SingleNodeLauncher"]


class SimpleLauncher(Launcher):
    """Run the command once, exactly as given.

    Suitable for single-node blocks, or for commands that start their own processes on
    every node (for example an MPI application). With ``nodes_per_block > 1`` only one
    copy runs, which is rarely what was meant, so that combination is logged as a warning.
    """

    @validate_init
    def __init__(self, debug: bool = True) -> None:
        super().__init__(debug=debug)

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int,
                 script_dir: str = "") -> str:
        if nodes_per_block > 1:
            logger.warning("SimpleLauncher starts a single copy of the command, but the block "
                           "has %d nodes: expect fewer workers than requested; use a "
                           "multi-node launcher such as SrunLauncher", nodes_per_block)
        return command


class SingleNodeLauncher(Launcher):
    """Start ``tasks_per_node * nodes_per_block`` copies of the command on this node.

    Each copy runs in the background and receives its 1-based copy number as ``$1``;
    ``CORES`` is exported as the number of online processors so commands can size
    themselves. The generated script waits for every copy and exits non-zero when any
    copy failed (``fail_on_any=True``) or, by default, only when every copy failed, so a
    block with one crashed worker pool keeps serving tasks with the rest. With ``debug``
    (the default) it says on stderr how many copies failed; without, the job's output is
    only the copies' own, as Parsl's tests expect.
    """

    @validate_init
    def __init__(self, debug: bool = True, fail_on_any: bool = False) -> None:
        super().__init__(debug=debug)
        self.fail_on_any = fail_on_any

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int,
                 script_dir: str = "") -> str:
        copies = tasks_per_node * nodes_per_block
        trace = "1" if self.debug else "0"
        strict = "1" if self.fail_on_any else "0"
        return f"""export CORES=$(getconf _NPROCESSORS_ONLN)
_parsl_trace={trace}
[ "$_parsl_trace" = "1" ] && echo "SingleNodeLauncher: $CORES cores online"
_parsl_copies={copies}
_parsl_fail_on_any={strict}
_parsl_pids=""

_parsl_run_one() {{
{command}
}}

for _parsl_n in $(seq 1 "$_parsl_copies"); do
    [ "$_parsl_trace" = "1" ] && echo "SingleNodeLauncher: starting copy $_parsl_n"
    _parsl_run_one "$_parsl_n" &
    _parsl_pids="$_parsl_pids $!"
done

_parsl_failed=0
_parsl_succeeded=0
for _parsl_pid in $_parsl_pids; do
    if wait "$_parsl_pid"; then
        _parsl_succeeded=$((_parsl_succeeded + 1))
    else
        _parsl_failed=$((_parsl_failed + 1))
    fi
done
[ "$_parsl_trace" = "1" ] && \
    echo "SingleNodeLauncher: $_parsl_succeeded succeeded, $_parsl_failed failed"

if [ "$_parsl_fail_on_any" = "1" ] && [ "$_parsl_failed" -gt 0 ]; then
    [ "$_parsl_trace" = "1" ] && \
        echo "SingleNodeLauncher: $_parsl_failed of $_parsl_copies copies failed" >&2
    exit 1
fi
if [ "$_parsl_succeeded" -eq 0 ] && [ "$_parsl_failed" -gt 0 ]; then
    [ "$_parsl_trace" = "1" ] && echo "SingleNodeLauncher: all $_parsl_copies copies failed" >&2
    exit 1
fi
exit 0
"""


def __getattr__(name: str) -> Any:
    """Parsl kept every launcher in this module; launchers now live in plugin
    distributions, so other names resolve through the registry (and name the
    distribution to install when it is missing)."""
    if name.startswith("_"):
        raise AttributeError(name)
    from parsl.plugins import registry

    return registry.load("launcher", name)
