"""The ``zoo`` command ends with :func:`zoo.utils.fast_exit.exit_now`: the status and output of a normal exit,
the ``atexit`` functions run, other threads waited for, without tearing down the modules."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("code", "status", "stderr"), [(None, 0, ""), (3, 3, ""), ("a message", 1, "a message")])
def test_exit_now_gives_sys_exits_status_after_the_atexit_functions(code, status, stderr):
    done = _python(f"""
        import atexit, sys
        from zoo.utils.fast_exit import exit_now
        atexit.register(lambda: print("atexit ran", flush=False))
        class Module:  # stands for a module torn down by a normal exit
            def __del__(self):
                print("torn down")
        kept = Module()
        sys.stdout.write("buffered, not flushed")
        exit_now({code!r})
        print("not reached")
    """)
    assert done.returncode == status
    assert done.stdout == "buffered, not flushedatexit ran\n"  # and nothing "torn down"
    assert done.stderr.strip() == stderr


def test_a_running_thread_is_waited_for_as_a_normal_exit_would(tmp_path):
    marker = tmp_path / "written"
    done = _python(f"""
        import threading, time
        from pathlib import Path
        from zoo.utils.fast_exit import exit_now
        threading.Thread(target=lambda: (time.sleep(0.5), Path({str(marker)!r}).write_text("done"))).start()
        exit_now(0)
    """)
    assert done.returncode == 0 and marker.read_text() == "done"


def test_the_zoo_command_keeps_its_statuses_and_messages(tmp_path):
    version = subprocess.run([sys.executable, "-m", "zoo", "--version"], capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("zoo, version")
    bad = subprocess.run([sys.executable, "-m", "zoo", "sr", str(tmp_path / "missing.png"), "--out",
                          str(tmp_path / "o"), "--self-ensemble", "3"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--self-ensemble" in bad.stderr
    assert not (tmp_path / "o").exists()
