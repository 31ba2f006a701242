"""``zoo view`` through its API (gradio_client): uploads run ``zoo sr``'s engine, downloads equal its files
(DICOM: but for the SOP Instance UIDs, new on every zoo sr write), bad input is one line and the server keeps
running."""

from __future__ import annotations

import pytest

from tests.view.conftest import bad_inputs, dicom, needs, png16, same_file

pytestmark = pytest.mark.slow

OPTIONS = ("embedded default", "auto", "pipeline's", 0, 0)  # pipeline, tile, self-ensemble, steps, seed


def _client(server):
    needs("gradio_client")
    from gradio_client import Client

    return Client(server.url, verbose=False)


def _backend(client) -> str:
    """The page's backend default (zoo sr's), as the page offers it."""
    info = client.view_api(return_format="dict", print_info=False)
    params = info["named_endpoints"]["/super_resolve"]["parameters"]
    return next(p["parameter_default"] for p in params if p["parameter_name"] == "backend_v")


def _run(client, path):
    from gradio_client import handle_file

    return client.predict(None, handle_file(str(path)), *OPTIONS, _backend(client), api_name="/super_resolve")


@pytest.mark.parametrize("source", [png16, dicom], ids=["png16", "dicom"])
def test_upload_shows_four_panels_and_downloads_zoo_sr_bytes(view_server, source):
    from pathlib import Path

    path = source()
    result = _run(_client(view_server), path)
    _preset, _scrub, downloads, lr, bic, sr, umap = result[:7]  # (the HR row, a layout, returns nothing)
    for panel in (lr, bic, sr, umap):
        assert panel and Path(panel if isinstance(panel, str) else panel["value"]).is_file()
    got = {Path(d).name: Path(d).read_bytes() for d in downloads}
    stem = path.name.split(".")[0]
    suffix = path.name[len(stem):]
    names = (f"{stem}{suffix}", f"{stem}.uncertainty{suffix}")
    assert sorted(got) == sorted(names)
    for name in names:  # byte for byte what zoo sr wrote for the same input, options and --out
        assert same_file(got[name], (view_server.expected / name).read_bytes(), name), name
        assert (view_server.out / name).read_bytes() == got[name]


def test_bad_inputs_are_one_line_and_the_server_keeps_running(view_server, tmp_path):
    from gradio_client.exceptions import AppError

    client = _client(view_server)
    before = sorted(p.name for p in view_server.out.iterdir())
    for what, path in bad_inputs(tmp_path / "bad").items():
        with pytest.raises(AppError) as caught:
            _run(client, path)
        message = str(caught.value)
        assert "\n" not in message.strip() and path.name in message and "Traceback" not in message, (what, message)
        assert view_server.alive()
    assert sorted(p.name for p in view_server.out.iterdir()) == before  # nothing half-written
