"""ntklib: the computations behind the lecture notes on wide networks as linear models.

Layers (lower never imports higher): data, stats → models → kernels → dynamics → bounds →
experiments → plotting (``stats``: power-law fits, geometric means, RMSE, relative errors; it sits
beside ``data`` at the bottom); ``claims`` and ``config`` stand apart. One concept, one place:
one model type (``models.Model``, built from a frozen spec; fast paths registered per spec type),
one linearization (``dynamics.LinearPredictor``), one training loop (``dynamics.step_fn``), one
sweep helper (``experiments.sweep``), one data entry point (``data.load``). Importing ntklib first
silences TensorFlow's start-up logging (neural-tangents imports TensorFlow).
"""

from . import _quiet  # noqa: F401  (must run before jax / tensorflow are imported)
from . import claims, config, data, dynamics, experiments, kernels, models, stats  # noqa: E402

__version__ = "0.1.0"

__all__ = ["claims", "config", "data", "dynamics", "experiments", "kernels", "models", "stats", "__version__"]
