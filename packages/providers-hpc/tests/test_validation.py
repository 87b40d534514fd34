"""Wrong provider parameters fail when the configuration is built, naming the field."""
from __future__ import annotations

import sys

import pytest

from parsl.errors import BadParameter
from parsl_hpc import (
    CondorProvider,
    GridEngineProvider,
    LSFProvider,
    PBSProProvider,
    SlurmProvider,
    SSHChannel,
    TorqueProvider,
)


@pytest.mark.parametrize("cls", [SlurmProvider, TorqueProvider, PBSProProvider, LSFProvider,
                                 CondorProvider, GridEngineProvider])
def test_wrongly_typed_nodes_per_block_names_class_and_parameter(cls):
    with pytest.raises(BadParameter, match=rf"{cls.__name__}: parameter 'nodes_per_block'"):
        cls(nodes_per_block="2")


@pytest.mark.parametrize("cls", [SlurmProvider, TorqueProvider, PBSProProvider, LSFProvider,
                                 CondorProvider, GridEngineProvider])
def test_malformed_walltime_is_rejected(cls):
    with pytest.raises(BadParameter, match="walltime"):
        cls(walltime="ten minutes")


def test_max_blocks_below_min_blocks_is_rejected():
    with pytest.raises(BadParameter, match="max_blocks"):
        SlurmProvider(min_blocks=3, max_blocks=1)


def test_negative_init_blocks_is_rejected():
    with pytest.raises(BadParameter, match="init_blocks"):
        SlurmProvider(init_blocks=-1)


def test_parallelism_above_one_is_rejected():
    with pytest.raises(BadParameter, match="parallelism"):
        SlurmProvider(parallelism=1.5)


def test_regex_job_id_without_id_group_is_rejected():
    with pytest.raises(BadParameter, match="regex_job_id"):
        SlurmProvider(regex_job_id=r"Submitted batch job (\d+)")


def test_lsf_request_by_cores_needs_cores_per_block():
    with pytest.raises(BadParameter, match="cores_per_block"):
        LSFProvider(request_by_nodes=False, cores_per_node=16)


def test_ssh_channel_rejects_out_of_range_port():
    with pytest.raises(BadParameter, match="port"):
        SSHChannel("login.example.org", port=70000)


def test_parsl_documented_defaults_are_kept():
    provider = SlurmProvider()
    assert (provider.walltime, provider.exclusive, provider.cmd_timeout,
            provider.init_blocks, provider.max_blocks) == ("00:10:00", True, 10, 1, 1)
    assert type(provider.launcher).__name__ == "SingleNodeLauncher"
    assert type(TorqueProvider().launcher).__name__ == "AprunLauncher"


def test_importing_the_package_does_not_import_paramiko():
    import subprocess

    code = ("import sys, parsl_hpc; "
            "sys.exit(1 if 'paramiko' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0


def test_parsl_import_paths_resolve_to_these_classes():
    from parsl.launchers import SrunLauncher as Compat
    from parsl.providers import SlurmProvider as Public
    from parsl.providers.slurm.slurm import SlurmProvider as Legacy
    from parsl_hpc.launchers import SrunLauncher

    assert Public is SlurmProvider and Legacy is SlurmProvider and Compat is SrunLauncher
