"""Leave the process without tearing down its modules: the ``zoo`` command's last step.

A normal interpreter exit frees every module and object one by one; with torch (and a runtime such as
OpenVINO) loaded that takes about 0.3 s on the 2-core development machine, a sixth of a one-image
``zoo sr``. :func:`exit_now` does what matters of a normal exit (the ``atexit`` functions, which flush and
close logging and remove temporary folders; stdout and stderr flushed) and then ends the process at once.
It falls back to a normal exit while another non-daemon thread runs (a normal exit would wait for it) or a
torch.distributed process group is open (it must be torn down).
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def exit_status(code: object) -> int:
    """The process status ``sys.exit(code)`` gives: None is 0, an int is itself, anything else is printed
    to stderr and gives 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _must_exit_normally() -> bool:
    """Whether a normal exit has work to do that a fast one would skip."""
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if others:
        return True
    distributed = sys.modules.get("torch.distributed")
    return bool(distributed is not None and distributed.is_available() and distributed.is_initialized())


def exit_now(code: object = None) -> NoReturn:
    """End the process with the status of ``sys.exit(code)``, skipping the teardown of its modules."""
    if _must_exit_normally():
        sys.exit(code)
    status = exit_status(code)
    atexit._run_exitfuncs()  # logging's shutdown, tempfile/weakref finalizers, other libraries' handlers
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (zoo list | head): nothing more to say there
            pass
    os._exit(status)
