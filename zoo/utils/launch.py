"""The process group a command runs in: Accelerate's ``PartialState`` under ``accelerate launch`` (or any
launcher that sets the usual rank variables), else a one-process stand-in that costs no import.

Importing ``accelerate`` takes about 0.2-1 s (it imports torch, yaml and its own utilities); a plain
``zoo sr scan.png`` runs in one process and needs none of it.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Any

__all__ = ["SingleProcess", "launched_by_distributed_launcher", "process_state"]

_LAUNCHER_VARIABLES = ("LOCAL_RANK", "RANK", "WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE",
                       "MV2_COMM_WORLD_SIZE")
"""Variables set by torchrun, ``accelerate launch``, MPI launchers: what Accelerate reads to find its peers."""


@dataclass(frozen=True)
class SingleProcess:
    """What :class:`accelerate.PartialState` answers in a plain (not launched) process."""

    device: Any = None
    num_processes: int = 1
    process_index: int = 0
    is_main_process: bool = True

    def wait_for_everyone(self) -> None:
        """Nothing to wait for: this process is the only one."""


def launched_by_distributed_launcher(environ: dict[str, str] | None = None) -> bool:
    """True if a launcher (``accelerate launch``, torchrun, MPI) or an XLA runtime may have started peers."""
    env = os.environ if environ is None else environ
    if any(name in env for name in _LAUNCHER_VARIABLES):
        return True
    if any(name.startswith("ACCELERATE_") for name in env):
        return True
    return importlib.util.find_spec("torch_xla") is not None


def process_state(cpu: bool) -> Any:
    """Accelerate's ``PartialState(cpu=cpu)`` when launched by a distributed launcher, else :class:`SingleProcess`."""
    if not launched_by_distributed_launcher():
        return SingleProcess()
    from accelerate import PartialState

    return PartialState(cpu=cpu)
