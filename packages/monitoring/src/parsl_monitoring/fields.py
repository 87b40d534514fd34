"""The order of the values in a worker's resource sample (a list, not a dict: the
keys would cost more than the values to encode, send, decode and insert, for every task).
Each name is a column of the ``resource`` table. Imports nothing, so workers load it fast.
"""
from __future__ import annotations

SAMPLE_FIELDS = (
    "timestamp",
    "resource_monitoring_interval",
    "psutil_process_pid",
    "psutil_process_time_user",
    "psutil_process_time_system",
    "psutil_process_memory_virtual",
    "psutil_process_memory_resident",
    "psutil_process_memory_percent",
    "psutil_process_status",
    "psutil_cpu_num",
    "psutil_process_disk_read",
    "psutil_process_disk_write",
    "psutil_process_num_ctx_switches_voluntary",
    "psutil_process_num_ctx_switches_involuntary",
    "psutil_process_children_count",
    "final",
    "psutil_process_cpu_percent",
    "psutil_process_memory_peak",
)
#: Index of each field in a sample.
INDEX = {name: i for i, name in enumerate(SAMPLE_FIELDS)}
