"""Run logs: a CSV of every logged value (always) and TensorBoard scalars (only if installed)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from zoo.folders.atomic import write_text

CSV_NAME = "metrics.csv"


class RunLogger:
    """Append ``step,key,value`` rows to ``DIR/metrics.csv``; on resume, rows after the resumed step are dropped.

    ``fresh`` (a run started over) removes the earlier metrics.csv and TensorBoard event files first.
    """

    def __init__(self, folder: Path, start_step: int = 0, enabled: bool = True, fresh: bool = False) -> None:
        self.enabled = enabled
        self.path = folder / CSV_NAME
        self._tb = None
        if not enabled:
            return
        folder.mkdir(parents=True, exist_ok=True)
        if fresh:  # a run started over (--overwrite): its own earlier logs go, nothing else in the folder
            self.path.unlink(missing_ok=True)
            for old in (folder / "tensorboard").glob("events.out.tfevents.*"):
                old.unlink()
        self._truncate(start_step)
        new = not self.path.exists()
        self._fh = self.path.open("a", newline="")
        self._csv = csv.writer(self._fh)
        if new:
            self._csv.writerow(["step", "key", "value"])
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(folder / "tensorboard"), purge_step=start_step or None)
        except Exception:  # noqa: BLE001 - TensorBoard is optional: any import failure means "not installed"
            self._tb = None

    def _truncate(self, start_step: int) -> None:
        if not self.path.exists():
            return
        with self.path.open(newline="") as fh:
            rows = list(csv.reader(fh))
        kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= start_step]
        write_text(self.path, "".join(",".join(r) + "\n" for r in kept))

    def log(self, step: int, values: dict[str, Any]) -> None:
        if not self.enabled:
            return
        for key, value in values.items():
            if value is None:
                continue
            self._csv.writerow([step, key, f"{float(value):.6g}"])
            if self._tb is not None:
                self._tb.add_scalar(key, float(value), step)
        self._fh.flush()

    def close(self) -> None:
        if self.enabled:
            self._fh.close()
            if self._tb is not None:
                self._tb.close()


def read_metrics(folder: str | Path) -> list[dict[str, Any]]:
    """The rows of a run's ``logs/metrics.csv`` as dicts (step:int, key:str, value:float)."""
    with (Path(folder) / CSV_NAME).open(newline="") as fh:
        return [{"step": int(r["step"]), "key": r["key"], "value": float(r["value"])} for r in csv.DictReader(fh)]
