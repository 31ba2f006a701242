"""Every runnable ```bash / ```python block of README.md and docs/*.md runs, page by page, in a fresh folder
(tests/docs/doc_blocks.py); blocks that cannot run offline carry a visible ``<!-- doc-test: skip (REASON) -->``.

Pages whose run takes more than ~30 s on 2 cores are marked slow (``SLOW_PAGES``); the others stay in the
fast suite.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.doc_blocks import SKIP, extract_blocks

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SLOW_PAGES = {"training.md", "evaluate.md", "export.md"}  # each > 30 s on 2 cores: tiny runs, but whole CLIs
# what a user's clone holds beside them: the docs name these paths relative to the repository root
CLONE_ENTRIES = ("configs", "zoo", "export", "plugins", "scripts")


def _runnable(page: Path) -> bool:
    return any(block.skip is None for block in extract_blocks(page))


def _page_param(page: Path):
    marks = [pytest.mark.slow] if page.name in SLOW_PAGES else []
    return pytest.param(page, id=page.name, marks=marks)


def _environment(tmp_path: Path) -> dict[str, str]:
    """This interpreter's environment with the checkout first on the path, the hub offline and caches in
    ``tmp_path`` (an example that exports into a cache leaves nothing behind)."""
    env = dict(os.environ)
    for name in ("TMPDIR", "XDG_CACHE_HOME", "ZOO_CACHE"):
        env[name] = str(tmp_path / ".cache" / name.lower())
        Path(env[name]).mkdir(parents=True)
    paths = [str(ROOT), str(ROOT / "export"), str(ROOT / "plugins" / "zoo-example-vae")]
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(HF_HUB_OFFLINE="1", MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    return env


def test_every_skip_marker_names_a_reason_and_precedes_a_block():
    """A marker that is not right before a bash/python block would silently skip nothing (or the wrong block)."""
    for page in PAGES:
        markers = len(re.findall(r"^<!--\s*doc-test:", page.read_text(encoding="utf-8"), re.M))
        skipped = [block for block in extract_blocks(page) if block.skip is not None]
        assert markers == len(skipped), f"{page.name}: {markers} doc-test markers, {len(skipped)} skipped blocks"
        assert all(block.skip.strip() for block in skipped), page.name


def test_skip_marker_syntax():
    assert SKIP.search("text\n<!-- doc-test: skip (needs the hub) -->").group("reason") == "needs the hub"
    assert SKIP.search("<!-- doc-test: skip (needs the hub) -->\nmore text") is None


@pytest.mark.parametrize("page", [_page_param(p) for p in PAGES if _runnable(p)])
def test_page_examples_run(page: Path, tmp_path: Path):
    for name in CLONE_ENTRIES:
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    run = subprocess.run(
        [sys.executable, "-m", "tests.docs.doc_blocks", str(page)],
        cwd=tmp_path, env=_environment(tmp_path), capture_output=True, text=True, timeout=1800,
    )
    assert run.returncode == 0, f"{page.name}:\n{run.stdout[-4000:]}\n{run.stderr[-6000:]}"
