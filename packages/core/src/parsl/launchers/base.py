"""The launcher interface: how a block's command is started on each of its nodes."""
from __future__ import annotations

from abc import ABCMeta, abstractmethod


class Launcher(metaclass=ABCMeta):
    """Wraps a worker command so it runs ``tasks_per_node`` times on each node of a block.

    Providers call the launcher with the executor's launch command and put the returned
    text into the job's script. ``debug`` adds ``set -x`` style tracing to that text.
    """

    def __init__(self, debug: bool = True) -> None:
        self.debug = debug

    @abstractmethod
    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int,
                 script_dir: str = "") -> str:
        """Return shell text that launches ``command`` across the block.

        ``script_dir`` is the provider's submit-script folder (Parsl's providers pass it
        as the fourth argument); launchers that write a command file put it there.
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def launch_command(launcher: Launcher, command: str, tasks_per_node: int,
                   nodes_per_block: int, script_dir: str) -> str:
    """Call ``launcher`` as providers do, passing ``script_dir`` only if it takes one.

    Parsl 1.x launchers (and users' launchers written against them) take three
    arguments; current Parsl passes a fourth. Providers call through here so both work.
    """
    import inspect

    try:
        inspect.signature(launcher).bind(command, tasks_per_node, nodes_per_block, script_dir)
    except TypeError:
        return launcher(command, tasks_per_node, nodes_per_block)
    except ValueError:  # no signature available (a C callable): use today's form
        pass
    return launcher(command, tasks_per_node, nodes_per_block, script_dir)
