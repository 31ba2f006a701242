"""Start-up stays light (issue #27, point 3): ``import zoo, zoo.cli`` imports no numerical library, and a
one-image ``zoo sr`` with the embedded default imports only what that run needs (torch, numpy, Pillow, ...),
never diffusers, Accelerate, SciPy or the readers of other formats. Checked on ``sys.modules`` in a fresh
interpreter; no time is asserted."""

from __future__ import annotations

import ast

import numpy as np
from PIL import Image

from tests.foundation.conftest import run_python
from zoo.utils.launch import SingleProcess, launched_by_distributed_launcher, process_state

NOT_AT_IMPORT = ("torch", "numpy", "diffusers", "accelerate", "scipy", "PIL", "safetensors", "tqdm", "yaml")
"""Nothing numerical is imported by ``import zoo, zoo.cli`` (``zoo --help``, ``zoo list`` start in a blink)."""
NOT_FOR_ONE_PNG = ("diffusers", "accelerate", "scipy", "pydicom", "nibabel", "tifffile", "timm", "torchmetrics",
                   "matplotlib", "huggingface_hub", "pywt", "torch._dynamo", "yaml")
"""Modules that a one-PNG ``zoo sr`` with the embedded default (resconv + space-to-depth VAE) has no use for.
(The runtime of ``--backend auto``, OpenVINO or ONNX Runtime, is that backend's business, not listed here.)"""


def _loaded(code: str, names: tuple[str, ...]) -> list[str]:
    """The modules of ``names`` that are in ``sys.modules`` once ``code`` has run in a fresh interpreter."""
    probe = (f"import sys\n{code}\n"
             f"print('LOADED', sorted(m for m in {names!r} if m in sys.modules))")
    out = run_python(probe)
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(line for line in out.stdout.splitlines() if line.startswith("LOADED"))
    return ast.literal_eval(line.removeprefix("LOADED "))


def test_import_zoo_and_its_cli_imports_nothing_numerical():
    assert _loaded("import zoo, zoo.cli", NOT_AT_IMPORT) == []


def test_one_png_through_zoo_sr_imports_only_what_it_needs(tmp_path):
    image = tmp_path / "scan.png"
    Image.fromarray(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64).astype(np.uint8)).save(image)
    out = tmp_path / "sr"
    run = (f"from zoo.cli import main\n"
           f"try:\n    main(['sr', {str(image)!r}, '--out', {str(out)!r}, '-q', '--self-ensemble', '1'])\n"
           f"except SystemExit as end:\n    assert not end.code, end.code")
    assert _loaded(run, NOT_FOR_ONE_PNG) == []
    assert (out / "scan.png").is_file()


def test_a_plain_process_needs_no_accelerate_and_a_launched_one_gets_it(monkeypatch):
    assert not launched_by_distributed_launcher({"PATH": "/bin"})
    for launched in ({"WORLD_SIZE": "2"}, {"LOCAL_RANK": "0"}, {"ACCELERATE_MIXED_PRECISION": "no"},
                     {"OMPI_COMM_WORLD_SIZE": "4"}):
        assert launched_by_distributed_launcher(launched)
    for name in ("LOCAL_RANK", "RANK", "WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    state = process_state(cpu=True)
    assert isinstance(state, SingleProcess) and state.is_main_process and state.num_processes == 1
    state.wait_for_everyone()
