"""pytest-benchmark set-up shared by the benchmark suites.

* ``machine_info`` of the saved JSON gets zoo's machine description (CPU model, cores, load average
  before the session, GPU, versions) and a ``busy`` flag; the load after the session is added to
  the JSON too.
* pytest-benchmark is not CUDA-aware: GPU suites synchronise inside the timed callable
  (``zoo.bench.timing.synchronizer``).
* Tests marked ``gpu`` are skipped without CUDA.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from zoo.bench.machine import busy_reason, describe_machine, load_average

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
_START: dict[str, Any] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    _START["machine"] = describe_machine(DEVICE)


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    machine = _START.get("machine") or describe_machine(DEVICE)
    machine_info["zoo"] = machine
    machine_info["zoo_busy_warning"] = busy_reason(machine["load_average_before"], machine["cores"])


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list, output_json: dict[str, Any]) -> None:
    output_json.setdefault("machine_info", {}).setdefault("zoo", {})["load_average_after"] = load_average()


def pytest_report_header(config: pytest.Config) -> list[str]:
    machine = _START.get("machine") or describe_machine(DEVICE)
    lines = [f"zoo bench: {machine['cpu']}, {machine['cores']} cores, load {machine['load_average_before']}, "
             f"device {DEVICE}"]
    warning = busy_reason(machine["load_average_before"], machine["cores"])
    return lines + ([f"WARNING: {warning}"] if warning else [])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if DEVICE == "cuda":
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
