"""A ``zoo view`` server on a free port for the page's tests, and the bad inputs it must refuse in one line.

The server runs with ``--out OUT``; before it starts, ``zoo sr`` writes the expected outputs of the same
inputs into that same OUT (DICOM derived-series UIDs depend on the output folder) and they are moved aside:
each download must then equal them byte for byte.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from zoo.data.samples import prepared_samples, sample_dir


def needs(module: str) -> None:
    """Skip with the reason when an optional test dependency is missing."""
    pytest.importorskip(module, reason=f"{module} is not installed (pip install 'zoo[app]' and the test set-up)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def png16() -> Path:
    """A bundled 16-bit PNG (64 x 64 LR image of the prepared samples)."""
    return sorted((prepared_samples() / "lr").glob("*.png"))[0]


def dicom() -> Path:
    """A bundled single-frame DICOM (CT, 128 x 128)."""
    return sample_dir() / "original" / "CT_small.dcm"


def bad_inputs(folder: Path) -> dict[str, Path]:
    """A corrupt DICOM, a 1 x 1 PNG and a 4D NIfTI with NaNs, written into ``folder`` (files ``zoo sr`` refuses)."""
    import nibabel as nib
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    corrupt = folder / "corrupt.dcm"
    corrupt.write_bytes(b"\0" * 128 + b"DICM" + dicom().read_bytes()[132:400])
    tiny = folder / "tiny.png"
    Image.fromarray(np.zeros((1, 1), np.uint16)).save(tiny)
    nan = np.ones((8, 8, 4, 2), np.float32)
    nan[2, 3, 1, 0] = np.nan
    nans = folder / "nans.nii.gz"
    nib.save(nib.Nifti1Image(nan, np.eye(4)), nans)
    return {"corrupt DICOM": corrupt, "1 x 1 image": tiny, "4D NIfTI with NaNs": nans}


def same_file(got: bytes, want: bytes, name: str) -> bool:
    """Byte equality; for DICOM, with the SOP Instance UIDs set aside: ``zoo sr`` itself gives every DICOM it
    writes a new one (:func:`zoo.data.writers.write_dicom`), so two ``zoo sr`` runs differ there too."""
    if not name.endswith(".dcm"):
        return got == want
    import io

    import pydicom

    def canonical(data: bytes) -> bytes:
        ds = pydicom.dcmread(io.BytesIO(data))
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3"
        sources = ds.get("SourceImageSequence") or []
        if len(sources) > 1:  # a map: its first source is the SR image, whose UID is new on every write
            sources[0].ReferencedSOPInstanceUID = "1.2.4"
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True)
        return out.getvalue()

    return canonical(got) == canonical(want)


@dataclass
class ViewServer:
    url: str
    out: Path
    expected: Path
    process: subprocess.Popen

    def alive(self) -> bool:
        with urllib.request.urlopen(self.url, timeout=10) as answer:
            return answer.status == 200


def _zoo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True, timeout=600)


def _wait(url: str, process: subprocess.Popen, log: Path, seconds: float = 120) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"zoo view exited: {log.read_text()}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"zoo view did not answer at {url}: {log.read_text()}")


@pytest.fixture(scope="package")
def view_server(tmp_path_factory) -> ViewServer:
    """``zoo view --out OUT --overwrite`` on a free port (loopback), with the expected ``zoo sr`` outputs aside
    (``--overwrite``: the browser and the client tests upload the same files, in either order)."""
    needs("gradio")
    base = tmp_path_factory.mktemp("view")
    out, expected = base / "out", base / "expected"
    done = _zoo("sr", str(png16()), str(dicom()), "--out", str(out), "--uncertainty", "-q")
    assert done.returncode == 0, done.stderr
    shutil.move(out, expected)
    port = free_port()
    log = base / "server.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    with log.open("w") as sink:
        process = subprocess.Popen([sys.executable, "-m", "zoo", "view", str(dicom()), "--out", str(out),
                                    "--overwrite", "--port", str(port)], stdout=sink, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait(url, process, log)
        yield ViewServer(url, out, expected, process)
    finally:
        process.terminate()
        process.wait(timeout=30)
