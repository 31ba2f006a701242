"""The SR pipeline: :class:`SRPipeline` (``sr_pipeline``), its builders (``build``), options (``config``),
saved folders (``saved``), hub folders (``hub``) and model card (``model_card``).

``from zoo.pipeline import SRPipeline, build_pipeline, load_pipeline`` keeps working; names load on
first use (PEP 562), so importing the package does not import torch.
"""

from __future__ import annotations

from zoo.utils.lazy import lazy_exports

_LAZY = {
    "SRPipeline": "zoo.pipeline.sr_pipeline",
    "check_compatible": "zoo.pipeline.sr_pipeline",
    "build_pipeline": "zoo.pipeline.build",
    "open_saved_pipeline": "zoo.pipeline.build",
    "load_pipeline": "zoo.pipeline.build",
    "default_pipeline": "zoo.pipeline.build",
    "PipelineConfig": "zoo.pipeline.config",
    "CompatibilityError": "zoo.pipeline.config",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
