"""The ``zoo view`` page (Gradio): inputs and options, the four panels, a slider, differences and metrics.

Every SR goes through :class:`zoo.app.engine.Engine` (``zoo sr``'s functions); this module only lays out
the page and turns arrays into images (:mod:`zoo.app.display`). Bad input is one line on the page
(``gr.Error``); the server keeps running.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.app import display
from zoo.app.engine import Engine, RunSettings, ViewError, ViewResult

__all__ = ["PageConfig", "build_page"]

DEFAULT_PIPELINE = "embedded default"
PIPELINE_DEFAULT = "pipeline's"  # the pipeline's own self-ensemble / backend
PANELS = ("LR (nearest)", "bicubic", "SR", "uncertainty", "HR")
BACKENDS = ("auto", "torch", "openvino", "onnxruntime")


@dataclass
class PageConfig:
    """What the command line gives the page."""

    engine: Engine
    files: list[Path]
    pipelines: list[str]  # --pipeline values the page may pick (besides the embedded default)
    backend: str | None  # zoo sr's --backend default (None: each pipeline's own)
    device: str = "cpu"


def _parse_tile(value: str) -> int | str:
    value = str(value).strip().lower()
    if value in ("auto", "off"):
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise ViewError(f"tile {value!r}: use auto, off, or an HR tile side in pixels (e.g. 512)")


def _settings(pipeline: str, tile: str, ensemble: str, steps: float | None, seed: float | None, backend: str,
              device: str) -> RunSettings:
    """The page's option widgets as :class:`RunSettings` (zoo sr's spelling and defaults)."""
    if steps is not None and steps != 0 and (int(steps) != steps or steps < 1):
        raise ViewError(f"steps {steps}: use a whole number of at least 1 (0: the pipeline's)")
    return RunSettings(
        pipeline=None if pipeline == DEFAULT_PIPELINE else pipeline, tile=_parse_tile(tile),
        self_ensemble=None if ensemble == PIPELINE_DEFAULT else int(ensemble),
        steps=int(steps) if steps else None, seed=int(seed or 0),
        backend=None if backend == PIPELINE_DEFAULT else backend, device=device,
    )


def _panel_arrays(result: ViewResult, index: int) -> dict[str, np.ndarray]:
    """The arrays of slice ``index`` at HR size, by panel name (uncertainty/HR only when there is one)."""
    lr = result.lr[index]
    arrays = {PANELS[0]: display.nearest_zoom(lr, result.scale), PANELS[1]: display.bicubic(lr, result.scale),
              PANELS[2]: result.sr[index]}
    if result.uncertainty_map is not None:
        arrays[PANELS[3]] = result.uncertainty_map[index]
    if result.hr is not None:
        arrays[PANELS[4]] = result.hr[index]
    return arrays


def _shown(name: str, array: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """8-bit image of a panel: the window for images, the map's own 0..max for the uncertainty."""
    if name == PANELS[3]:
        return display.display_image(array, (0.0, max(float(np.max(array)), 1e-12)))
    return display.display_image(array, window)


def render(result: ViewResult | None, index: float, preset: str, first: str, second: str) -> list[Any]:
    """Panels, slider pair, difference, error map and metrics of slice ``index`` under ``preset``."""
    if result is None:
        return [None] * 8 + [""]
    index = int(min(max(index or 0, 0), len(result.lr) - 1))
    arrays = _panel_arrays(result, index)
    window = display.window_for(preset, result.lr[index], result.window)
    shown = {name: _shown(name, a, window) for name, a in arrays.items()}
    a, b = shown.get(first, shown[PANELS[0]]), shown.get(second, shown[PANELS[2]])
    diff = display.difference(arrays.get(first, arrays[PANELS[0]]), arrays.get(second, arrays[PANELS[2]]))
    diff_img = display.display_image(diff, (0.0, max(float(diff.max()), 1e-12)))
    error, metrics = None, ""
    if result.hr is not None:
        err = display.difference(arrays[PANELS[2]], arrays[PANELS[4]])
        error = display.display_image(err, (0.0, max(float(err.max()), 1e-12)))
        metrics = f"Slice {index}: " + display.metrics_line(arrays[PANELS[2]], arrays[PANELS[1]], arrays[PANELS[4]])
    return [shown[PANELS[0]], shown[PANELS[1]], shown[PANELS[2]], shown.get(PANELS[3]), (a, b), diff_img, error,
            shown.get(PANELS[4]), metrics]


def _downloads(engine: Engine, result: ViewResult) -> list[str]:
    """The written output (and map), copied byte for byte into the page's private folder to be served."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="download-", dir=engine.scratch))
    files = [p for p in (result.output, result.uncertainty) if p is not None]
    return [str(shutil.copyfile(p, folder / p.name)) for p in files]


def build_page(config: PageConfig):
    """The page as a ``gr.Blocks`` (not launched)."""
    import gradio as gr

    backend_default = config.backend if config.backend is not None else PIPELINE_DEFAULT
    backends = list(BACKENDS) if config.backend is not None else [PIPELINE_DEFAULT, *BACKENDS]
    with gr.Blocks(title="zoo view", analytics_enabled=False) as page:
        state = gr.State(None)
        gr.Markdown("## zoo view: LR, bicubic, SR and uncertainty side by side")
        with gr.Row():
            with gr.Column(scale=1):
                chosen = gr.Dropdown([str(p) for p in config.files], label="File from the command line",
                                     value=str(config.files[0]) if config.files else None, allow_custom_value=False)
                upload = gr.File(label="…or upload (PNG/TIFF/DICOM/NIfTI/.npy)", type="filepath", elem_id="upload")
            with gr.Column(scale=1):
                pipeline = gr.Dropdown([DEFAULT_PIPELINE, *config.pipelines], value=(config.pipelines or
                                       [DEFAULT_PIPELINE])[0], label="Pipeline")
                with gr.Row():
                    tile = gr.Textbox("auto", label="Tile (auto, off or HR pixels)")
                    ensemble = gr.Dropdown([PIPELINE_DEFAULT, "1", "2", "4", "8"], value=PIPELINE_DEFAULT,
                                           label="Self-ensemble")
                with gr.Row():
                    steps = gr.Number(0, label="Steps (0: the pipeline's)", precision=0)
                    seed = gr.Number(0, label="Seed", precision=0)
                    backend = gr.Dropdown(backends, value=backend_default, label="Backend")
                run = gr.Button("Super-resolve", variant="primary", elem_id="run")
        with gr.Row():
            preset = gr.Dropdown([display.MIN_MAX], value=display.MIN_MAX, label="Window/level")
            scrub = gr.Slider(0, 1, value=0, step=1, label="Slice / frame", visible=False)
        with gr.Row(elem_id="panels"):
            lr_img = gr.Image(label=PANELS[0], type="numpy", format="png", interactive=False, elem_id="panel-lr")
            bic_img = gr.Image(label=PANELS[1], type="numpy", format="png", interactive=False, elem_id="panel-bicubic")
            sr_img = gr.Image(label=PANELS[2], type="numpy", format="png", interactive=False, elem_id="panel-sr")
            map_img = gr.Image(label="uncertainty (expected absolute error)", type="numpy", format="png",
                               interactive=False, elem_id="panel-uncertainty")
        with gr.Row():
            first = gr.Dropdown(list(PANELS), value=PANELS[0], label="Slider: left")
            second = gr.Dropdown(list(PANELS), value=PANELS[2], label="Slider: right")
        with gr.Row():
            slider = gr.ImageSlider(label="Before / after", type="numpy", format="png", elem_id="slider")
            diff_img = gr.Image(label="|left − right|", type="numpy", format="png", interactive=False,
                                elem_id="panel-difference")
        with gr.Row(visible=False) as hr_row:
            hr_img = gr.Image(label="HR reference", type="numpy", format="png", interactive=False, visible=True)
            error_img = gr.Image(label="|SR − HR| error map", type="numpy", format="png", interactive=False)
        metrics = gr.Markdown("", elem_id="metrics")
        downloads = gr.File(label="Download (output and map, in the input's format)", file_count="multiple",
                            interactive=False, elem_id="downloads")
        views = [lr_img, bic_img, sr_img, map_img, slider, diff_img, error_img, hr_img, metrics]

        def on_run(picked, uploaded, pipe_name, tile_v, ens_v, steps_v, seed_v, backend_v,
                   progress=gr.Progress(track_tqdm=True)):
            source = uploaded or picked
            if not source:
                raise gr.Error("no file: pick one from the command line or upload one", print_exception=False)
            try:
                settings = _settings(pipe_name, tile_v, ens_v, steps_v, seed_v, backend_v, config.device)
                result = config.engine.run(Path(source), settings)
            except ViewError as err:
                raise gr.Error(f"{err}", print_exception=False) from None
            choices = display.presets_for(result.modality, result.window)
            default = display.VOI if display.VOI in choices else display.MIN_MAX
            rendered = render(result, 0, default, PANELS[0], PANELS[2])
            volume = len(result.lr) > 1
            return [result, gr.update(choices=choices, value=default),
                    gr.update(maximum=max(1, len(result.lr) - 1), value=0, visible=volume),
                    _downloads(config.engine, result), gr.update(visible=result.hr is not None), *rendered[:3],
                    gr.update(value=rendered[3], visible=result.uncertainty_map is not None), *rendered[4:]]

        run.click(on_run, [chosen, upload, pipeline, tile, ensemble, steps, seed, backend],
                  [state, preset, scrub, downloads, hr_row, *views], concurrency_limit=1, show_progress="full",
                  api_name="super_resolve")
        for trigger in (preset.change, scrub.release, first.change, second.change):
            trigger(render, [state, scrub, preset, first, second], views, concurrency_limit=None,
                    api_visibility="private", show_progress="hidden")
    return page
