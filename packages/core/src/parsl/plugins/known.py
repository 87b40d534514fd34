"""Which distribution of the Parsl ecosystem provides each public Parsl name.

The registry only knows what is installed. This table lets it turn "no such name" into
"install this distribution" for every class and module path a Parsl user may already
import, e.g. ``from parsl.providers import SlurmProvider`` on a machine that has only
``parsl-core``. It is plain data: reading it imports nothing.

A distribution that starts providing a new public name should add it here, so that users
without the distribution get the install hint instead of a bare unknown-name error.
"""
from __future__ import annotations

from typing import Dict, FrozenSet, Optional

HTEX = "parsl-htex"
HPC = "parsl-providers-hpc"
CLOUD = "parsl-providers-cloud"
STAGING = "parsl-staging"
MONITORING = "parsl-monitoring"
TASKVINE = "parsl-taskvine"

#: kind -> public name -> distribution that provides it.
KNOWN_COMPONENTS: Dict[str, Dict[str, str]] = {
    "executor": {
        "HighThroughputExecutor": HTEX,
        "MPIExecutor": HTEX,
        "WorkQueueExecutor": TASKVINE,
        "TaskVineExecutor": TASKVINE,
    },
    "provider": {
        "SlurmProvider": HPC,
        "PBSProProvider": HPC,
        "TorqueProvider": HPC,
        "LSFProvider": HPC,
        "CondorProvider": HPC,
        "GridEngineProvider": HPC,
        "AWSProvider": CLOUD,
        "KubernetesProvider": CLOUD,
    },
    "launcher": {
        "SrunLauncher": HPC,
        "SrunMPILauncher": HPC,
        "AprunLauncher": HPC,
        "JsrunLauncher": HPC,
        "MpiExecLauncher": HPC,
        "MpiRunLauncher": HPC,
        "GnuParallelLauncher": HPC,
        "WrappedLauncher": HPC,
    },
    "staging": {
        "HTTPSeparateTaskStaging": STAGING,
        "HTTPInTaskStaging": STAGING,
        "FTPSeparateTaskStaging": STAGING,
        "FTPInTaskStaging": STAGING,
        "RSyncStaging": STAGING,
        "GlobusStaging": STAGING,
        "ZipFileStaging": STAGING,
    },
    "serializer": {},
    "monitoring_radio": {
        "UDPRadio": MONITORING,
        "HTEXRadio": MONITORING,
        "FilesystemRadio": MONITORING,
        "MultiprocessingQueueRadio": MONITORING,
    },
}

#: Public Parsl component names that no distribution of this project provides. Asking for
#: one raises an ImportError saying so, instead of Python's bare "cannot import name".
NOT_PROVIDED: Dict[str, FrozenSet[str]] = {
    "executor": frozenset({"FluxExecutor", "GlobusComputeExecutor", "RadicalPilotExecutor"}),
    "provider": frozenset({"AzureProvider", "GoogleCloudProvider"}),
}

#: Module paths (and everything below them) that Parsl users import, -> distribution.
#: The distribution maps each path to its real module through its
#: ``parsl.compat_modules`` entry points; see :mod:`parsl.plugins.aliases`.
KNOWN_MODULES: Dict[str, str] = {
    "parsl.executors.high_throughput": HTEX,
    "parsl.executors.taskvine": TASKVINE,
    "parsl.executors.workqueue": TASKVINE,
    "parsl.providers.slurm": HPC,
    "parsl.providers.pbspro": HPC,
    "parsl.providers.torque": HPC,
    "parsl.providers.lsf": HPC,
    "parsl.providers.condor": HPC,
    "parsl.providers.grid_engine": HPC,
    "parsl.providers.cluster_provider": HPC,
    "parsl.channels": HPC,
    "parsl.providers.aws": CLOUD,
    "parsl.providers.kubernetes": CLOUD,
    "parsl.data_provider.http": STAGING,
    "parsl.data_provider.ftp": STAGING,
    "parsl.data_provider.rsync": STAGING,
    "parsl.data_provider.globus": STAGING,
    "parsl.data_provider.zip": STAGING,
    "parsl.monitoring.monitoring": MONITORING,
    "parsl.monitoring.radios": MONITORING,
    "parsl.monitoring.db_manager": MONITORING,
    "parsl.monitoring.remote": MONITORING,
    "parsl.monitoring.router": MONITORING,
    "parsl.monitoring.visualization": MONITORING,
}

#: Public names of ``parsl.monitoring`` that are not registry components, -> the module
#: (resolved through the compatibility aliases) that defines them.
MONITORING_NAMES: Dict[str, str] = {
    "MonitoringHub": "parsl.monitoring.monitoring",
}


def distribution_for_name(kind: str, name: str) -> Optional[str]:
    """The distribution that provides ``name`` of ``kind``, if it is a known Parsl name."""
    return KNOWN_COMPONENTS.get(kind, {}).get(name)


def is_not_provided(kind: str, name: str) -> bool:
    """Whether ``name`` is a Parsl component that no distribution of this project provides."""
    return name in NOT_PROVIDED.get(kind, frozenset())


def distribution_for_module(module: str) -> Optional[str]:
    """The distribution that provides ``module`` (or the package it lives in), if known."""
    candidate = module
    while candidate:
        distribution = KNOWN_MODULES.get(candidate)
        if distribution is not None:
            return distribution
        candidate = candidate.rpartition(".")[0]
    return None
