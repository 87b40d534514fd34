"""Parsl's import paths and MonitoringHub parameters."""
from __future__ import annotations

import warnings
from typing import Any

import pytest

from parsl.errors import BadParameter


def test_monitoringhub_imports_from_parsl_monitoring() -> None:
    from parsl.monitoring import MonitoringHub
    from parsl.monitoring.monitoring import MonitoringHub as FromModule
    from parsl_monitoring.hub import MonitoringHub as Real

    assert MonitoringHub is Real
    assert FromModule is Real


def test_radios_resolve_through_the_registry_and_parsl_module_paths() -> None:
    from parsl.monitoring import FilesystemRadio, HTEXRadio, UDPRadio
    from parsl.monitoring.radios.filesystem import FilesystemRadio as Fs
    from parsl.monitoring.radios.htex import HTEXRadio as Htex
    from parsl.monitoring.radios.udp import UDPRadio as Udp

    assert (UDPRadio, FilesystemRadio, HTEXRadio) == (Udp, Fs, Htex)


def test_hub_port_and_range_are_accepted_with_a_deprecation_warning() -> None:
    from parsl.monitoring import MonitoringHub

    with pytest.warns(DeprecationWarning, match="hub_port"):
        hub = MonitoringHub(hub_address="127.0.0.1", hub_port=55055,
                            hub_port_range=(55050, 56000))
    assert (hub.hub_address, hub.hub_port) == ("127.0.0.1", 55055)


def test_parsl_13_style_arguments_need_no_warning() -> None:
    from parsl.monitoring import MonitoringHub

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hub = MonitoringHub(hub_address="localhost", workflow_name="wf", workflow_version="1",
                            monitoring_debug=False, resource_monitoring_enabled=True,
                            resource_monitoring_interval=3)
    assert hub.resource_monitoring_interval == 3


def test_negative_resource_interval_is_refused_naming_the_field() -> None:
    from parsl.monitoring import MonitoringHub

    with pytest.raises(BadParameter, match=r"resource_monitoring_interval.*-1"):
        MonitoringHub(resource_monitoring_interval=-1)


def test_malformed_logging_endpoint_is_refused_naming_the_field() -> None:
    from parsl.monitoring import MonitoringHub

    with pytest.raises(BadParameter, match=r"logging_endpoint.*not a url"):
        MonitoringHub(logging_endpoint="not a url")


def test_import_parsl_does_not_import_sqlalchemy() -> None:
    import subprocess
    import sys

    code = ("import sys, parsl; from parsl.config import Config; "
            "print(any(m.startswith(('sqlalchemy', 'parsl_monitoring')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip()
    assert out == "False"


def test_toml_config_names_the_hub_and_an_executors_radio(tmp_path: Any) -> None:
    from parsl.config import Config
    from parsl_monitoring import MonitoringHub, UDPRadio

    site = tmp_path / "site.toml"
    site.write_text(
        '[[executors]]\n'
        'type = "HighThroughputExecutor"\n'
        'label = "htex"\n'
        '[executors.remote_monitoring_radio]\n'
        'type = "UDPRadio"\n'
        'address = "127.0.0.1"\n'
        '[monitoring]\n'
        'resource_monitoring_interval = 5\n'
        f'logging_endpoint = "sqlite:///{tmp_path}/m.db"\n')
    config = Config.from_toml(str(site))
    assert isinstance(config.monitoring, MonitoringHub)
    assert config.monitoring.resource_monitoring_interval == 5
    radio = config.executors[0].remote_monitoring_radio
    assert isinstance(radio, UDPRadio) and radio.address == "127.0.0.1"


#: Parsl 2026.10's monitoring tables and their columns (parsl/monitoring/db_manager.py):
#: users' SQL and notebooks name these.
PARSL_COLUMNS = {
    "workflow": "run_id workflow_name workflow_version time_began time_completed host user "
                "rundir tasks_failed_count tasks_completed_count",
    "status": "task_id task_status_name timestamp run_id try_id",
    "task": "task_id run_id task_depends task_func_name task_memoize task_hashsum "
            "task_inputs task_outputs task_stdin task_stdout task_stderr task_time_invoked "
            "task_time_returned task_fail_count task_fail_cost",
    "try": "try_id task_id run_id block_id hostname task_executor task_try_time_launched "
           "task_try_time_running task_try_time_returned task_fail_history task_joins",
    "node": "id run_id hostname uid block_id cpu_count total_memory active worker_count "
            "python_v timestamp last_heartbeat",
    "block": "run_id executor_label block_id job_id timestamp status",
    "resource": "try_id task_id run_id timestamp resource_monitoring_interval "
                "psutil_process_pid psutil_process_memory_percent "
                "psutil_process_children_count psutil_process_time_user "
                "psutil_process_time_system psutil_process_memory_virtual "
                "psutil_process_memory_resident psutil_process_disk_read "
                "psutil_process_disk_write psutil_process_status psutil_cpu_num "
                "psutil_process_num_ctx_switches_voluntary "
                "psutil_process_num_ctx_switches_involuntary",
}


def test_every_parsl_table_and_column_exists_in_the_database(tmp_path: Any) -> None:
    import sqlalchemy as sa

    from parsl_monitoring import schema

    engine = sa.create_engine(f"sqlite:///{tmp_path}/monitoring.db")
    schema.metadata.create_all(engine)
    inspector = sa.inspect(engine)
    for table, columns in PARSL_COLUMNS.items():
        ours = {c["name"] for c in inspector.get_columns(table)}
        assert set(columns.split()) <= ours, (table, set(columns.split()) - ours)
    engine.dispose()


class _PathLike:
    def __init__(self, path: Any) -> None:
        self.path = path

    def __fspath__(self) -> Any:
        return self.path


@pytest.mark.parametrize("given, stored", [
    (None, ""),
    ("hello.txt", "hello.txt"),
    (("tuple.txt", "w"), "tuple.txt"),
    (_PathLike(b"pl.txt"), "pl.txt"),
    ((_PathLike("pl2.txt"), "w"), "pl2.txt"),
])
def test_task_stdout_and_stderr_are_stored_as_parsl_stores_them(given: Any,
                                                                 stored: str) -> None:
    from parsl_monitoring.hub import _stream

    assert _stream(given) == stored


def test_a_file_stream_is_stored_as_its_url_even_when_not_local() -> None:
    from parsl.data_provider.files import File
    from parsl_monitoring.hub import _stream

    assert _stream(File("arbitrary:abc123")) == "arbitrary:abc123"
    assert _stream(File("file:///tmp/pl5")) == "file:///tmp/pl5"


@pytest.mark.parametrize("log_config, filename", [(None, "database_manager.log"),
                                                  ("json", "database_manager.jsonlog")])
def test_database_writer_logs_to_the_run_directory_as_parsls_database_manager(
        tmp_path, log_config, filename) -> None:
    """Parsl's file layout: ``<run_dir>/database_manager.log``, or the run's LogConfig's
    file of that name (Parsl's test_monitoring/test_log_config)."""
    import os

    from monitoring_support import threads_config

    import parsl
    from parsl.logconfigs import JSONLogging

    extra = {} if log_config is None else {"initialize_logging": JSONLogging()}
    url = f"sqlite:///{tmp_path}/monitoring.db"
    with parsl.load(threads_config(str(tmp_path / "runinfo"), url, **extra)) as dfk:
        run_dir = dfk.run_dir
    path = os.path.join(run_dir, filename)
    assert os.path.exists(path)
    assert "monitoring database writer" in open(path).read()


def test_every_task_state_has_a_plot_colour_at_parsls_dashboard_path() -> None:
    """Parsl's test_viz_colouring imports its dashboard's colour tables by module path."""
    from parsl.dataflow.states import States
    from parsl.monitoring.visualization.plots.default import workflow_plots

    for state in States:
        assert state.name in workflow_plots.gantt_colors
        assert state.name in workflow_plots.dag_state_colors
