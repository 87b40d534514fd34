"""TaskVineManagerConfig: how the TaskVine manager runs, with Parsl's fields and defaults."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

__all__ = ["VINE_DEFAULT_PORT", "TaskVineManagerConfig"]

#: TaskVine's default manager port (``ndcctools.taskvine.cvine.VINE_DEFAULT_PORT``),
#: written out so that building a config does not import ndcctools.
VINE_DEFAULT_PORT = 9123


@dataclass
class TaskVineManagerConfig:
    """Settings of the TaskVine manager; field names and defaults are Parsl's.

    ``port`` (0: any free port), ``address`` (how workers reach this host; default
    127.0.0.1 for a local factory, else this host's name), ``project_name`` and
    ``project_password_file``; ``env_vars`` and ``init_command`` for every task;
    ``env_pack`` (a poncho ``.tar.gz`` environment every task runs in); ``max_retries``
    (cctools-level retries, None for unlimited); ``library_config`` for serverless mode
    (``num_slots``, ``cores``, ``memory``, ``disk``, ``gpus``, and ``exec_mode``
    ``'direct'`` (default) or ``'fork'``); ``shared_fs`` (no file transfers);
    ``autolabel``/``autolabel_algorithm``/``autolabel_window``/``autocategory``;
    ``enable_peer_transfers``; ``wait_for_workers``; ``vine_log_dir``;
    ``tune_parameters`` (``{name: value}`` for ``vine_tune``). ``app_pack`` and
    ``extra_pkgs`` need conda-pack packing per app, which this executor does not do:
    setting ``app_pack=True`` is refused with that reason.
    """

    port: int = VINE_DEFAULT_PORT
    address: Optional[str] = None
    project_name: Optional[str] = None
    project_password_file: Optional[str] = None
    env_vars: Optional[Dict[str, Any]] = None
    init_command: str = ""
    env_pack: Optional[str] = None
    app_pack: bool = False
    extra_pkgs: Optional[List[str]] = None
    max_retries: Optional[int] = 1
    library_config: Optional[Dict[str, Any]] = None
    shared_fs: bool = False
    autolabel: bool = False
    autolabel_algorithm: str = "max-xput"
    autolabel_window: Optional[int] = None
    autocategory: bool = True
    enable_peer_transfers: bool = True
    wait_for_workers: Optional[int] = None
    tune_parameters: Optional[Dict[str, Any]] = None
    vine_log_dir: Optional[str] = None
