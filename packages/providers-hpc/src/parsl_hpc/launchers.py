"""Launchers for batch systems: how a block's command starts on every node of a job.

A provider puts the text a launcher returns at the end of the job script. Parallel
launchers (srun, aprun, jsrun, mpiexec, mpirun) run a script file on each node rather than
the command itself, so the command is first written to ``cmd_parsl_<pid>.sh``. It goes in
``script_dir`` (the provider's submit-script folder, which Parsl's providers pass as the
fourth argument) when that folder exists on the node running the job script, and in the
job's working folder otherwise; batch systems place both on a file system all nodes share.
The heredoc is quoted, so the command's ``$variables`` expand on the node that runs it.

``tasks_per_node * nodes_per_block`` copies of the command run per block; ``overrides``
adds site-specific options to the launcher's command line verbatim.
"""
from __future__ import annotations

import logging

from parsl._validation import validate_init
from parsl.errors import BadParameter
from parsl.launchers.base import Launcher

logger = logging.getLogger(__name__)

__all__ = [
    "AprunLauncher",
    "GnuParallelLauncher",
    "JsrunLauncher",
    "MpiExecLauncher",
    "MpiRunLauncher",
    "SrunLauncher",
    "SrunMPILauncher",
    "WrappedLauncher",
]

_HEREDOC_END = "PARSL_LAUNCHER_CMD_EOF"


def _write_command_file(command: str, debug: bool, script_dir: str) -> str:
    """Shell text writing ``command`` to ``$_parsl_cmd_file``, made executable.

    ``SCRIPT_DIR`` is kept under Parsl's name (and falls back to the working folder when
    it is not a folder on this node) so job scripts read the same as Parsl's.
    """
    _check_script_dir(script_dir)
    trace = 'echo "launcher: command written to $_parsl_cmd_file"\n' if debug else ""
    return (f'SCRIPT_DIR="{script_dir}"\n'
            '[[ -d $SCRIPT_DIR ]] || SCRIPT_DIR=""\n'
            '_parsl_cmd_file="${SCRIPT_DIR:+$SCRIPT_DIR/}cmd_parsl_$$.sh"\n'
            '[[ $_parsl_cmd_file == /* ]] || _parsl_cmd_file="$PWD/$_parsl_cmd_file"\n'
            f"cat > \"$_parsl_cmd_file\" <<'{_HEREDOC_END}'\n"
            f"{command}\n"
            f"{_HEREDOC_END}\n"
            f'chmod u+x "$_parsl_cmd_file"\n'
            f"{trace}")


def _check_script_dir(script_dir: str) -> None:
    """Refuse folder names that would break out of the double-quoted shell assignment."""
    if not isinstance(script_dir, str) or any(c in script_dir for c in '"$`\\\n'):
        raise BadParameter("launcher", "script_dir", script_dir,
                           'a folder path (str) without ", $, `, \\ or newlines')


def _check_counts(owner: str, tasks_per_node: int, nodes_per_block: int) -> None:
    if tasks_per_node < 1:
        raise BadParameter(owner, "tasks_per_node", tasks_per_node, "an int >= 1")
    if nodes_per_block < 1:
        raise BadParameter(owner, "nodes_per_block", nodes_per_block, "an int >= 1")


class _OverridesLauncher(Launcher):
    """A launcher taking Parsl's ``overrides`` string of extra command-line options."""

    @validate_init
    def __init__(self, debug: bool = True, overrides: str = "") -> None:
        super().__init__(debug=debug)
        self.overrides = overrides

    def __repr__(self) -> str:
        return f"<{type(self).__name__} overrides={self.overrides!r}>"


class SrunLauncher(_OverridesLauncher):
    """Start all copies with one ``srun`` inside the Slurm allocation.

    ``srun --ntasks=<tasks_per_node * nodes_per_block> --ntasks-per-node=<tasks_per_node>``
    places ``tasks_per_node`` copies on each node; ``-l`` prefixes output lines with the
    task number. ``CORES`` and ``NODES`` are exported from Slurm's environment.
    """

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int,
                 script_dir: str = "") -> str:
        _check_counts(type(self).__name__, tasks_per_node, nodes_per_block)
        total = tasks_per_node * nodes_per_block
        return ("export CORES=$SLURM_CPUS_ON_NODE\n"
                "export NODES=$SLURM_JOB_NUM_NODES\n"
                + ('echo "SrunLauncher: $NODES nodes, $CORES cores per node"\n'
                   if self.debug else "")
                + _write_command_file(command, self.debug, script_dir)
                + f"srun --ntasks={total} --ntasks-per-node={tasks_per_node} -l "
                  f"{self.overrides} bash \"$_parsl_cmd_file\"\n")


class SrunMPILauncher(_OverridesLauncher):
    """Start each copy in its own ``srun`` step holding a share of the nodes.

    Meant for workers that themselves start MPI applications with srun: each copy gets
    ``nodes_per_block // copies`` nodes (at least one) exclusively, so the MPI runs of
    different copies do not land on the same cores. The script waits for every copy.
    """

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int,
                 script_dir: str = "") -> str:
        _check_counts(type(self).__name__, tasks_per_node, nodes_per_block)
        copies = tasks_per_node * nodes_per_block
        nodes_per_copy = max(1, nodes_per_block // copies)
        return ("export CORES=$SLURM_CPUS_ON_NODE\n"
                "export NODES=$SLURM_JOB_NUM_NODES\n"
                + _write_command_file(command, self.debug, script_dir)
                + f"for _parsl_copy in $(seq 1 {copies}); do\n"
                  f"    srun --exclusive --nodes={nodes_per_copy} --ntasks=1 -l "
                  f"{self.overrides} bash \"$_parsl_cmd_file\" &\n"
                  f"done\n"
                  f"wait\n")


class AprunLauncher(_OverridesLauncher):
    """Start all copies with Cray's ``aprun -n <total> -N <tasks_per_node>``."""

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int,
                 script_dir: str = "") -> str:
        _check_counts(type(self).__name__, tasks_per_node, nodes_per_block)
        total = tasks_per_node * nodes_per_block
        return (_write_command_file(command, self.debug, script_dir)
                + f"aprun -n {total} -N {tasks_per_node} {self.overrides} "
                  f"/bin/bash \"$_parsl_cmd_file\"\n")


class JsrunLauncher(_OverridesLauncher):
    """Start all copies with IBM's ``jsrun -n <total> -r <tasks_per_node>`` (LSF systems)."""

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int,
                 script_dir: str = "") -> str:
        _check_counts(type(self).__name__, tasks_per_node, nodes_per_block)
        total = tasks_per_node * nodes_per_block
        return (_write_command_file(command, self.debug, script_dir)
                + f"jsrun -n {total} -r {tasks_per_node} {self.overrides} "
                  f"/bin/bash \"$_parsl_cmd_file\"\n")


_HOSTFILE_SCRIPT = """_parsl_hostfile="$PWD/hostfile_parsl_$$"
if [ -n "${PBS_NODEFILE:-}" ] && [ -f "$PBS_NODEFILE" ]; then
    sort -u "$PBS_NODEFILE" > "$_parsl_hostfile"
elif [ -n "${SLURM_JOB_NODELIST:-}" ]; then
    scontrol show hostnames "$SLURM_JOB_NODELIST" > "$_parsl_hostfile"
elif [ -n "${LSB_HOSTS:-}" ]; then
    echo "$LSB_HOSTS" | tr ' ' '\\n' | sort -u > "$_parsl_hostfile"
else
    hostname > "$_parsl_hostfile"
fi
"""


class MpiExecLauncher(_OverridesLauncher):
    """Start all copies with ``mpiexec``, one hostfile line per node of the allocation.

    The hostfile comes from ``$PBS_NODEFILE``, Slurm's node list, LSF's ``$LSB_HOSTS`` or,
    outside a batch job, this host; ``-ppn`` is MPICH/Hydra syntax, as on the systems
    Parsl documents this launcher for. ``bind_cmd none`` keeps MPI from pinning each copy
    to one core, since workers run many processes.
    """

    @validate_init
    def __init__(self, debug: bool = True, bind_cmd: str = "--bind-to",
                 overrides: str = "") -> None:
        super().__init__(debug=debug, overrides=overrides)
        self.bind_cmd = bind_cmd

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int,
                 script_dir: str = "") -> str:
        _check_counts(type(self).__name__, tasks_per_node, nodes_per_block)
        total = tasks_per_node * nodes_per_block
        bind = f"{self.bind_cmd} none " if self.bind_cmd else ""
        return (_write_command_file(command, self.debug, script_dir) + _HOSTFILE_SCRIPT
                + f"mpiexec -n {total} -ppn {tasks_per_node} -hostfile \"$_parsl_hostfile\" "
                  f"{bind}{self.overrides} bash \"$_parsl_cmd_file\"\n")


class MpiRunLauncher(_OverridesLauncher):
    """Start all copies with ``mpirun -np <total>``, running the command with ``bash_location``."""

    @validate_init
    def __init__(self, debug: bool = True, bash_location: str = "/bin/bash",
                 overrides: str = "") -> None:
        super().__init__(debug=debug, overrides=overrides)
        self.bash_location = bash_location

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int,
                 script_dir: str = "") -> str:
        _check_counts(type(self).__name__, tasks_per_node, nodes_per_block)
        total = tasks_per_node * nodes_per_block
        return (_write_command_file(command, self.debug, script_dir)
                + f"mpirun -np {total} {self.overrides} {self.bash_location} "
                  f"\"$_parsl_cmd_file\"\n")


class GnuParallelLauncher(Launcher):
    """Start copies on every node with GNU Parallel over SSH (``parallel --sshloginfile``).

    For batch systems without a parallel launcher. The nodes come from ``$PBS_NODEFILE``,
    Slurm's node list or this host; ``tasks_per_node`` copies run per node. GNU Parallel
    must be installed, and password-less SSH between the nodes must work.
    """

    @validate_init
    def __init__(self, debug: bool = True) -> None:
        super().__init__(debug=debug)

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int,
                 script_dir: str = "") -> str:
        _check_counts(type(self).__name__, tasks_per_node, nodes_per_block)
        total = tasks_per_node * nodes_per_block
        return (_write_command_file(command, self.debug, script_dir) + _HOSTFILE_SCRIPT
                + f'sed "s/^/{tasks_per_node}\\//" "$_parsl_hostfile" '
                  f'> "$_parsl_hostfile.ssh"\n'
                  f'for _parsl_copy in $(seq 1 {total}); do\n'
                  f'    echo "bash $_parsl_cmd_file $_parsl_copy"\n'
                  f'done > "$_parsl_cmd_file.parallel"\n'
                  f'parallel --env _ --joblog "$PWD/parallel_parsl_$$.log" '
                  f'--sshloginfile "$_parsl_hostfile.ssh" --jobs {tasks_per_node} '
                  f'--line-buffer < "$_parsl_cmd_file.parallel"\n')


class WrappedLauncher(Launcher):
    """Put ``prepend`` in front of the command, e.g. a container runtime invocation.

    Starts exactly one copy: ``tasks_per_node`` and ``nodes_per_block`` are not
    multiplied out, so values above one are logged as ignored.
    """

    @validate_init
    def __init__(self, prepend: str, debug: bool = True) -> None:
        super().__init__(debug=debug)
        self.prepend = prepend

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int,
                 script_dir: str = "") -> str:
        if tasks_per_node > 1:
            logger.warning("WrappedLauncher ignores tasks per node (tasks_per_node=%d) and "
                           "starts one copy", tasks_per_node)
        if nodes_per_block > 1:
            logger.warning("WrappedLauncher ignores nodes per block (nodes_per_block=%d) "
                           "and starts one copy", nodes_per_block)
        return f"{self.prepend} {command}"

    def __repr__(self) -> str:
        return f"<WrappedLauncher prepend={self.prepend!r}>"
