"""OpenVINO opened by zoo sends no usage telemetry and leaves no thread behind.

``import openvino`` starts ``openvino_telemetry``: a client ID under ``~/intel`` and an "import" event sent
to Google Analytics from a worker thread (and a process exit waits for that thread). zoo imports OpenVINO
through :func:`zoo.utils.openvino_import.import_openvino`, which turns that off for its process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("openvino")

PROBE = textwrap.dedent("""
    import json, sys, threading
    if sys.argv[1] == "zoo":
        from zoo_export.runtime_openvino import import_openvino
        openvino = import_openvino()
    else:
        import openvino
    openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    threads = [t.name for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    print(json.dumps({"threads": threads}))
""")


def _import_in_fresh_process(tmp_path, how: str) -> tuple[list[str], list[str]]:
    """(non-daemon threads alive after the import, files written under the fresh HOME)."""
    home = tmp_path / how
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "TF_BUILD", "JENKINS_URL"}}  # telemetry skips CI
    env["HOME"] = str(home)
    done = subprocess.run([sys.executable, "-c", PROBE, how], env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    threads = json.loads(done.stdout.strip().splitlines()[-1])["threads"]
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    return threads, written


def test_openvino_through_zoo_writes_no_client_id_and_starts_no_sender_thread(tmp_path) -> None:
    threads, written = _import_in_fresh_process(tmp_path, "zoo")
    assert written == [] and threads == [], (written, threads)


def test_the_control_shows_what_a_plain_import_does(tmp_path) -> None:
    """Without zoo's import this OpenVINO writes its client ID and starts a sender: the check above can fail."""
    threads, written = _import_in_fresh_process(tmp_path, "plain")
    if not written and not threads:
        pytest.skip("this OpenVINO starts no telemetry on import; the test above has nothing to guard")
    assert any("intel" in w for w in written) or threads
