"""Code blocks of README.md and docs/*.md, extracted and run as a user following the page would run them.

A ```bash or ```python block runs unless the line right before it (blank lines allowed) is a visible marker
``<!-- doc-test: skip (REASON) -->`` (hub downloads, GPUs, your own scans, file listings of a plugin, ...).
Blocks of one page run in order in one folder and share it; python blocks also share one namespace.
``python -m tests.docs.doc_blocks PAGE.md`` runs a page's blocks in the current folder.
"""

from __future__ import annotations

import re
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Block", "extract_blocks", "run_blocks"]

LANGUAGES = ("bash", "python")
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
SKIP = re.compile(r"<!--\s*doc-test:\s*skip\s*\((?P<reason>[^\n]+)\)\s*-->\s*\Z")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it starts, its language and code, and why it is skipped (None: it runs)."""

    page: str
    line: int
    lang: str
    code: str
    skip: str | None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def extract_blocks(path: Path) -> list[Block]:
    """The ```bash / ```python blocks of a markdown page, each with its skip reason if marked."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        lang = match.group(1)
        if lang not in LANGUAGES:
            continue
        marker = SKIP.search(text[: match.start()].rstrip())
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(Block(path.name, line, lang, match.group(2), marker.group("reason") if marker else None))
    return blocks


def run_blocks(blocks: list[Block]) -> int:
    """Run the blocks that are not skipped, in order, in the current folder; 0, or 1 at the first failure."""
    namespace: dict[str, object] = {"__name__": "__main__"}
    for block in blocks:
        if block.skip is not None:
            print(f"doc-test: {block.where} skipped ({block.skip})", flush=True)
            continue
        print(f"doc-test: {block.where} ({block.lang})", flush=True)
        if not _run_one(block, namespace):
            print(f"doc-test: FAILED {block.where}", file=sys.stderr, flush=True)
            return 1
    return 0


def _run_one(block: Block, namespace: dict[str, object]) -> bool:
    """Run one block: bash in a new ``bash -e -o pipefail``, python in the page's shared namespace."""
    if block.lang == "bash":
        return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.code]).returncode == 0
    try:
        exec(compile(block.code, block.where, "exec"), namespace)  # noqa: S102 - the repository's own docs
    except Exception:  # noqa: BLE001 - report any failure of the example with its traceback
        traceback.print_exc()
        return False
    return True


if __name__ == "__main__":
    sys.exit(run_blocks(extract_blocks(Path(sys.argv[1]))))
