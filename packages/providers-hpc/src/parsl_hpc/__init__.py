"""Parsl providers for batch schedulers, their launchers, and remote submission over SSH.

Install with ``pip install parsl-providers-hpc``; Parsl then resolves
``from parsl.providers import SlurmProvider`` and ``from parsl.launchers import
SrunLauncher`` to the classes here through entry points. paramiko is imported only when
an :class:`~parsl_hpc.channels.SSHChannel` connects.
"""
from __future__ import annotations

from parsl_hpc.channels import LocalChannel, SSHChannel
from parsl_hpc.cluster_provider import ClusterProvider
from parsl_hpc.condor import CondorProvider
from parsl_hpc.grid_engine import GridEngineProvider
from parsl_hpc.launchers import (
    AprunLauncher,
    GnuParallelLauncher,
    JsrunLauncher,
    MpiExecLauncher,
    MpiRunLauncher,
    SrunLauncher,
    SrunMPILauncher,
    WrappedLauncher,
)
from parsl_hpc.lsf import LSFProvider
from parsl_hpc.pbspro import PBSProProvider
from parsl_hpc.slurm import SlurmProvider
from parsl_hpc.torque import TorqueProvider

__all__ = [
    "AprunLauncher",
    "ClusterProvider",
    "CondorProvider",
    "GnuParallelLauncher",
    "GridEngineProvider",
    "JsrunLauncher",
    "LSFProvider",
    "LocalChannel",
    "MpiExecLauncher",
    "MpiRunLauncher",
    "PBSProProvider",
    "SSHChannel",
    "SlurmProvider",
    "SrunLauncher",
    "SrunMPILauncher",
    "TorqueProvider",
    "WrappedLauncher",
]
