"""``zoo view``: a local web page that shows LR, bicubic, SR and the uncertainty map (optional extra ``zoo[app]``)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from zoo.cli.options import device_option, out_option

LOOPBACK = "127.0.0.1"


def _references(inputs: tuple[str, ...], ref: str | None, files: list[Path]) -> dict[Path, Path]:
    """HR reference of each input file: ``--ref`` (a file for one input, or a folder matched by file name),
    and the hr/ image of a prepared folder's LR image."""
    from zoo.data.manifest import read_manifest

    refs: dict[Path, Path] = {}
    for item in inputs:
        folder = Path(item)
        if (folder / "manifest.csv").is_file() and (folder / "prepare.json").is_file():
            refs.update({(folder / r.lr).resolve(): folder / r.hr for r in read_manifest(folder)})
    if ref:
        ref_path = Path(ref)
        if ref_path.is_file():
            refs.update({f.resolve(): ref_path for f in files[:1]})
        else:
            refs.update({f.resolve(): ref_path / f.name for f in files if (ref_path / f.name).is_file()})
    return refs


def sr_default_backend() -> str | None:
    """``zoo sr``'s ``--backend`` default, read from its own option so that the page follows it."""
    from zoo.cli.sr import sr_cmd

    return next(p.default for p in sr_cmd.params if p.name == "backend")


def _check_app_installed() -> None:
    """Gradio is found (not imported yet: its settings are set in the environment first)."""
    import importlib.util

    from zoo.cli.output import fail

    if importlib.util.find_spec("gradio") is None:
        fail("zoo view needs Gradio: pip install 'zoo[app]'")


@click.command("view")
@click.argument("inputs", nargs=-1)
@click.option("--pipeline", "pipelines", multiple=True, metavar="P",
              help="Pipeline the page may use besides the embedded default (repeatable): a saved or export "
                   "folder, or hf:OWNER/REPO[@REV]. The first one given is preselected.")
@out_option("Also write each output (and its uncertainty map) here, under zoo sr's rules (locked, atomic, "
            "manifest.csv; an existing output is kept unless --overwrite). Without it outputs live in a "
            "private temporary folder removed when the page stops.", name="out_dir", default=None)
@click.option("--overwrite", is_flag=True, help="With --out: replace existing outputs.")
@click.option("--ref", type=click.Path(exists=True), default=None,
              help="HR reference: a file (one input) or a folder of files named like the inputs; the page then "
                   "shows PSNR/SSIM and the error map. A prepared folder given as INPUT brings its own hr/.")
@click.option("--split", default="all", show_default=True, type=click.Choice(["all", "train", "val", "test"]),
              help="For a prepared folder given as INPUT: its LR images of this split.")
@click.option("--host", default=LOOPBACK, show_default=True,
              help="Address to listen on: 127.0.0.1 is this machine only; 0.0.0.0 exposes the page to the "
                   "network (use --auth or a reverse proxy; see docs/view.md).")
@click.option("--port", type=click.IntRange(0, 65535), default=7860, show_default=True,
              help="Port to listen on (0: a free one).")
@click.option("--auth", default=None, metavar="USER:PASS",
              help="Ask for this user name and password (or set ZOO_VIEW_AUTH, which keeps it out of the "
                   "process list).")
@device_option()
@click.option("--open-browser", is_flag=True, help="Open the page in the default browser.")
def view_cmd(inputs: tuple[str, ...], pipelines: tuple[str, ...], out_dir: str | None, overwrite: bool,
             ref: str | None, split: str, host: str, port: int, auth: str | None, device: str,
             open_browser: bool) -> None:
    """Open a local page showing LR, bicubic, SR and the uncertainty map of files, side by side.

    \b
    INPUTS (files, folders, globs, prepared folders) are listed on the page, which also takes
    uploads. Each run is `zoo sr` on one file: the same readers, pipeline, options and writers;
    the download is the file `zoo sr` writes for the same input and options. Bad input is one
    line on the page; the server keeps running. The page is offline (no CDN, fonts, analytics)
    and listens on 127.0.0.1 only unless --host says otherwise. Ctrl-C stops it.

    \b
    Examples:
      zoo view scan.dcm
      zoo view data/prepared --split test            # with HR: PSNR/SSIM and the error map
      zoo view scans/ --out sr/ --pipeline runs/medvae/pipeline
      ZOO_VIEW_AUTH=alice:secret zoo view --host 0.0.0.0 --port 8080   # see docs/view.md
    """
    from zoo.cli.output import fail

    _check_app_installed()
    auth = auth or os.environ.get("ZOO_VIEW_AUTH")
    if auth is not None and (":" not in auth or not auth.split(":", 1)[0] or not auth.split(":", 1)[1]):
        fail("--auth: use USER:PASS (both non-empty)")
    for spec in pipelines:
        if not spec.startswith("hf:") and not Path(spec).is_dir():
            fail(f"--pipeline {spec}: no such folder")
    serve(inputs, pipelines, out_dir, overwrite, ref, split, host, port, auth, device, open_browser)


def serve(inputs: tuple[str, ...], pipelines: tuple[str, ...], out_dir: str | None, overwrite: bool,
          ref: str | None, split: str, host: str, port: int, auth: str | None, device: str,
          open_browser: bool) -> None:
    """Lock --out, build the page with a private scratch folder (uploads, downloads), serve until stopped."""
    import shutil

    from zoo.app.engine import Engine, private_scratch
    from zoo.cli.output import fail
    from zoo.data.sr_files import expand_inputs
    from zoo.folders.guard import OutputError, lock_output, release_output_locks
    from zoo.utils.devices import resolve_device

    files, errors = expand_inputs(inputs, split)
    for item, reason in errors:
        click.echo(f"zoo: warning: {item}: {reason}", err=True)
    out = Path(out_dir) if out_dir else None
    if out is not None:
        try:
            lock_output(out)
        except OutputError as err:
            fail(str(err))
    scratch = private_scratch()
    os.environ["GRADIO_TEMP_DIR"] = str(scratch / "gradio")  # uploads and served files: private, removed at exit
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    try:
        from zoo.app.page import PageConfig, build_page

        engine = Engine(scratch, out, overwrite, _references(inputs, ref, files))
        page = build_page(PageConfig(engine, files, list(pipelines), sr_default_backend(), resolve_device(device)))
        page.queue(default_concurrency_limit=1)
        user_pass = tuple(auth.split(":", 1)) if auth else None
        page.launch(server_name=host, server_port=port or None, share=False, auth=user_pass, inbrowser=open_browser,
                    show_error=False, enable_monitoring=False, ssr_mode=False, pwa=False, mcp_server=False,
                    quiet=False)
    finally:
        release_output_locks()
        shutil.rmtree(scratch, ignore_errors=True)
