"""Import OpenVINO with its usage telemetry off.

``import openvino`` imports OpenVINO's model converter, which starts the ``openvino_telemetry`` package:
unless a consent file says otherwise it writes a client ID under ``~/intel`` and sends an "import" event to
Google Analytics from a background thread (and a process exit waits for that thread: about 0.45 s on the
2-core development machine when the network is unreachable). zoo processes medical images and promises to
work offline, so it hides ``openvino_telemetry`` from the import; OpenVINO then uses its own no-op stub
(``openvino.tools.ovc.telemetry_stub``). Nothing else in OpenVINO changes.
"""

from __future__ import annotations

import logging
import sys
from types import ModuleType

logger = logging.getLogger(__name__)

TELEMETRY_MODULE = "openvino_telemetry"


def block_openvino_telemetry() -> bool:
    """Make ``import openvino_telemetry`` fail in this process (OpenVINO falls back to its no-op stub).

    Returns False where it is too late: telemetry was already started by an earlier ``import openvino``
    (then OpenVINO's own opt-out, ``opt_in_out --opt_out``, is the way to turn it off)."""
    if sys.modules.get(TELEMETRY_MODULE, None) is not None:
        logger.debug("openvino_telemetry was imported before zoo could turn it off")
        return False
    sys.modules[TELEMETRY_MODULE] = None  # type: ignore[assignment]  # import raises ImportError
    return True


def import_openvino() -> ModuleType:
    """``openvino``, imported with its telemetry off (raises ImportError where it is not installed)."""
    block_openvino_telemetry()
    import openvino

    return openvino
