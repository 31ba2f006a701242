"""``zoo view``'s options: a bad one is one line and exit 2, before any server starts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from zoo.cli import main

pytest.importorskip("gradio", reason="gradio is not installed (pip install 'zoo[app]')")


@pytest.mark.parametrize("args, says", [
    (["--auth", "alice"], "--auth: use USER:PASS (both non-empty)"),
    (["--pipeline", "no/such/folder"], "--pipeline no/such/folder: no such folder"),
])
def test_a_bad_option_is_one_line_exit_2(args, says):
    done = CliRunner().invoke(main, ["view", *args])
    assert done.exit_code == 2
    assert done.output.strip().splitlines() == [f"zoo: error: {says}"]


def test_the_page_offers_zoo_sr_backend_default():
    from zoo.cli.sr import sr_cmd
    from zoo.cli.view import sr_default_backend

    assert sr_default_backend() == next(p.default for p in sr_cmd.params if p.name == "backend")
