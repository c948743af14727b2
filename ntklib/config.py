"""The scale switch: NTKLIB_SCALE=ci (default; each notebook ~1 min on 2 CPU cores) or paper.

Every chapter reads its widths, dataset sizes, step counts and seeds from :func:`settings`,
so switching scale changes numbers, never code paths.
"""

from __future__ import annotations

import os
from types import MappingProxyType, SimpleNamespace

__all__ = [
    "SCALES", "scale", "Settings", "schema", "settings", "all_settings",
]

SCALES = ("ci", "paper")

# Each chapter's entry (its id: the notebook name without its number) has the same keys at both
# scales; a nested dict is one experiment's settings (cfg.momentum.width). *_data / data:
# "digits" (bundled, offline) at ci, real data (ntklib.data.load: MNIST, CIFAR-10) at paper.
_SETTINGS = {
    "introduction": {
        # picture: the 1-D regression that opens the book (erf, one hidden layer, input x itself
        # with biases); widths × seeds trained next to their linearizations, NTK-GP and NNGP on
        # the grid. The rest: the first computed number (ReLU kernel on two digits).
        "ci": dict(n_train=2, width=4096, depth=3, sigma_w2=2.0, sigma_b2=0.1, seeds=(0,),
                   ratio_range=(0.1, 10.0),
                   picture=dict(seed=0, n_train=10, noise=0.1, interval=(-3.0, 3.0),
                                grid_points=201, grid_interval=(-4.5, 4.5), depth=1,
                                activation='erf', sigma_w2=1.0, sigma_b2=4.0,
                                widths=(128, 512, 2048), seeds=tuple(range(16)),
                                lr_fraction=0.5, steps=1000, records=10, diag_reg=0.0)),
        "paper": dict(n_train=2, width=16384, depth=3, sigma_w2=2.0, sigma_b2=0.1, seeds=(0,),
                      ratio_range=(0.1, 10.0),
                      picture=dict(seed=0, n_train=10, noise=0.1, interval=(-3.0, 3.0),
                                   grid_points=401, grid_interval=(-4.5, 4.5), depth=1,
                                   activation='erf', sigma_w2=1.0, sigma_b2=4.0,
                                   widths=(128, 512, 2048, 8192),
                                   seeds=tuple(range(64)), lr_fraction=0.5, steps=4000,
                                   records=20, diag_reg=0.0)),
    },
    "ntk": {
        "ci": dict(lr_fraction=0.5, spectrum_depths=(1, 3, 5),
                   block_widths=(64, 128, 256, 512, 1024),
                   agreement=dict(n=16, width=256),
                   timing=dict(depth=2, widths=(64, 256, 1024), n=32, width=256, sizes=(8, 32, 128),
                               repeats=3),
                   monte_carlo=dict(points=16, input_dim=64,
                                    widths=tuple(2 ** i for i in range(3, 13)),
                                    samples=tuple(2 ** i for i in range(0, 7)), replicates=4,
                                    deep_samples=(1, 2), deep_replicates=4),
                   # Fig. 1 (a, c, d): chapter 1's Fig. 1b set-up (MNIST, |D| = 128)
                   training=dict(data='mnist', n=128, n_test=16,
                                 widths=(64, 128, 256, 512, 1024), seeds=(0, 1, 2), steps=200,
                                 records=12, depth=3),
                   fluctuation=dict(depths=(1, 2, 4, 8), width=256),
                   # the one-hidden-layer derivation: Gaussian inputs, Monte-Carlo samples
                   derivation=dict(points=6, input_dim=16, samples=200_000)),
        "paper": dict(lr_fraction=0.5, spectrum_depths=(1, 3, 5),
                      block_widths=tuple(2 ** i for i in range(6, 13)),
                      agreement=dict(n=64, width=1024),
                      timing=dict(depth=2, widths=(64, 256, 1024, 4096), n=32, width=256,
                                  sizes=(8, 32, 128, 512), repeats=5),
                      monte_carlo=dict(points=32, input_dim=1024,
                                       widths=tuple(2 ** i for i in range(3, 14)),
                                       samples=tuple(2 ** i for i in range(0, 9)), replicates=8,
                                       deep_samples=(1, 2, 4, 8, 16), deep_replicates=8),
                      training=dict(data='mnist', n=128, n_test=16,
                                    widths=tuple(2 ** i for i in range(4, 13)),
                                    seeds=(0, 1, 2, 3), steps=4096, records=20, depth=3),
                      fluctuation=dict(depths=(1, 2, 4, 8, 16), width=1024),
                      derivation=dict(points=8, input_dim=64, samples=2_000_000)),
    },
    "linearization": {
        # ReLU networks (exact check, Fig. 3, Fig. S5) use sigma_w2, sigma_b2; the erf ensemble
        # (Fig. 2) has its own. sd_floor / near_data: where the ensemble's statistics are compared.
        "ci": dict(seed=0, sigma_w2=2.0, sigma_b2=0.1,
                   exact=dict(depth=3, width=256, n_train=64, n_test=64, steps=200,
                              lr_fraction=0.5),
                   fig3=dict(depth=3, width=2048, n_train=128, n_test=128, steps=400,
                             lr_fraction=0.5, records=30),
                   sweep=dict(widths=(64, 128, 256, 512), depths=(1, 2, 4), n_train=128,
                              sizes=(32, 128, 512), size_depth=2, n_test=128, seeds=(0, 1, 2),
                              steps=200, lr_fraction=0.5),
                   ensemble=dict(depth=2, width=512, members=200, member_batch=None, n_train=32,
                                 sigma_w2=1.5, record=(0, 2, 6, 20, 40), lr_fraction=0.9,
                                 alphas=51, alpha_range=(-2.0, 3.0), sd_floor=0.1,
                                 near_data=0.3),
                   s23=dict(n_train=16, n_test=4, samples=40000, time=12.0)),
        "paper": dict(seed=0, sigma_w2=2.0, sigma_b2=0.1,
                      exact=dict(depth=3, width=2048, n_train=128, n_test=128, steps=1000,
                                 lr_fraction=0.5),
                      fig3=dict(depth=5, width=2048, n_train=256, n_test=256, steps=5000,
                                lr_fraction=0.5, records=40),
                      sweep=dict(widths=tuple(2 ** i for i in range(5, 13)),
                                 depths=(1, 2, 4, 8, 16), n_train=128, sizes=(32, 128, 512, 1536),
                                 size_depth=2, n_test=256, seeds=(0, 1, 2, 3, 4), steps=2000,
                                 lr_fraction=0.5),
                      ensemble=dict(depth=3, width=8192, members=100, member_batch=10, n_train=128,
                                    sigma_w2=1.5, record=(0, 4, 16, 64, 256, 4096), lr_fraction=0.9,
                                    alphas=101, alpha_range=(-2.0, 3.0), sd_floor=0.1,
                                    near_data=0.3),
                      s23=dict(n_train=16, n_test=4, samples=40000, time=12.0)),
    },
    "parameterization": {
        # Fig. 1 / S6-bottom on MNIST with the paper's |D| = 128; the 1-hidden-layer sweep of
        # Fig. S6 (top; the paper: two CIFAR-10 classes) on data_1l up to width widths_1l[-1]
        "ci": dict(dataset='mnist', n_train=128, n_test=128, depth=3, lr_fraction=0.5,
                   widths=(128, 256, 512, 1024), fit_min_width=128, seeds=(0, 1, 2),
                   steps=200, data_1l='digits', n_train_1l=64, n_test_1l=64,
                   widths_1l=(128, 512, 2048, 8192, 16384), steps_1l=200,
                   sp_widths=(32, 64, 128, 256, 512),
                   init=dict(widths=(8, 32, 128, 512), seeds=1000, points=8),
                   narrow=dict(widths=(8, 16, 32, 64), seeds=tuple(range(16))),
                   gap=dict(width=256, steps=100),
                   catapult=dict(multiples=(1.5, 3.0, 12.0))),
        "paper": dict(dataset='mnist', n_train=128, n_test=128, depth=3, lr_fraction=0.5,
                      widths=tuple(2 ** i for i in range(7, 13)), fit_min_width=128,
                      seeds=(0, 1, 2, 3), steps=131072, data_1l='cifar10', n_train_1l=128,
                      n_test_1l=128, widths_1l=tuple(2 ** i for i in range(5, 15)), steps_1l=65536,
                      sp_widths=tuple(2 ** i for i in range(5, 12)),
                      init=dict(widths=(8, 32, 128, 512, 2048), seeds=4000, points=16),
                      narrow=dict(widths=(8, 16, 32, 64), seeds=tuple(range(64))),
                      gap=dict(width=2048, steps=1000),
                      catapult=dict(multiples=(1.5, 3.0, 12.0))),
    },
    "gronwall": {
        "ci": dict(n_train=64, n_test=64, activation='erf', depth=2,
                   widths=(128, 256, 384, 512, 1024), seeds=(0, 1, 2), lr_fraction=0.5, steps=200,
                   records=30,
                   sweep=dict(n_train=64, width=512, depths=(1, 3), activations=('tanh', 'relu'),
                              multipliers=(0.8, 1.2, 1.6, 2.0, 2.5, 3.2, 4.0, 5.0, 6.4, 8.0, 10.0, 16.0),
                              steps=300, seeds=(0, 1)),
                   # the Hessian view: ||H||_op at the first `inputs` test inputs of every run
                   hessian=dict(inputs=4, iterations=20, bound_width=512,
                                taus=(0.0, 0.5, 1.0))),
        "paper": dict(n_train=128, n_test=128, activation='erf', depth=3,
                      widths=tuple(2 ** i for i in range(8, 14)), seeds=(0, 1, 2, 3, 4),
                      lr_fraction=0.5, steps=600, records=40,
                      sweep=dict(n_train=128, width=2048, depths=(1, 3),
                                 activations=('tanh', 'relu'),
                                 multipliers=(0.5, 0.7, 0.9, 1.1, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.5, 2.8, 3.2, 4.0, 5.0, 6.4, 8.0, 10.0, 12.8, 16.0),
                                 steps=1000, seeds=(0, 1, 2)),
                      hessian=dict(inputs=8, iterations=50, bound_width=2048,
                                   taus=(0.0, 0.25, 0.5, 0.75, 1.0))),
    },
    "beyond_optimizers": {
        "ci": dict(seed=0, seeds=(0, 1),
                   momentum=dict(data='digits', n=128, depth=3, width=512, steps=200, beta=0.9,
                                 lr_fraction=0.05, records=15, dense_steps=100,
                                 widths=(64, 128, 256, 512), seeds=(0, 1, 2, 3, 4),
                                 edge_fractions=(0.95, 1.05)),
                   cross_entropy=dict(data='mnist', n=256, depth=2, width=512, lr=1.0, beta=0.9,
                                      batch=64, steps=200, records=15),
                   deviation=dict(data='digits', n=64, depth=4, widths=(32, 64, 128, 256, 512),
                                  lr=1.0, steps=500, records=20, threshold=0.05)),
        "paper": dict(seed=0, seeds=(0, 1, 2),
                      momentum=dict(data='cifar10', n=128, depth=3, width=2048, steps=2000,
                                    beta=0.9, lr_fraction=0.05, records=25, dense_steps=300,
                                    widths=(256, 512, 1024, 2048, 4096),
                                    seeds=(0, 1, 2, 3, 4, 5, 6, 7), edge_fractions=(0.95, 1.05)),
                      cross_entropy=dict(data='mnist', n=2048, depth=2, width=2048, lr=1.0,
                                         beta=0.9, batch=64, steps=5000, records=25),
                      deviation=dict(data='mnist', n=256, depth=4,
                                     widths=tuple(2 ** i for i in range(5, 13)), lr=1.0, steps=5000,
                                     records=30, threshold=0.05)),
    },
    "beyond_architectures": {
        "ci": dict(seed=0,
                   conv=dict(data='digits', n=64, depth=2, channels=(4, 8, 16, 32), seeds=(0, 1, 2),
                             lr_fraction=0.1, beta=0.9, steps=300, records=12),
                   resnet=dict(data='digits', n=32, blocks=1, channels=(4, 8, 16, 32),
                               seeds=(0, 1, 2), lr_fraction=0.1, beta=0.9, steps=300, records=12),
                   parameterization=dict(data='mnist', n=128, depth=2, width=256, seeds=(0, 1),
                                         log2_fractions=tuple(range(-6, 5)), steps=200),
                   standard=dict(data='mnist', n=128, depth=3, width=512, lr_fraction=0.5,
                                 steps=300, records=15)),
        "paper": dict(seed=0,
                      conv=dict(data='cifar10', n=128, depth=3, channels=(16, 32, 64, 128, 256),
                                seeds=(0, 1, 2, 3, 4), lr_fraction=0.1, beta=0.9, steps=1000,
                                records=15),
                      resnet=dict(data='cifar10', n=128, blocks=1,
                                  channels=(32, 64, 128, 256, 512), seeds=(0, 1, 2, 3, 4),
                                  lr_fraction=0.1, beta=0.9, steps=1000, records=15),
                      parameterization=dict(data='mnist', n=512, depth=2, width=1024,
                                            seeds=(0, 1, 2), log2_fractions=tuple(range(-9, 6)),
                                            steps=1000),
                      standard=dict(data='cifar10', n=256, depth=5, width=2048, lr_fraction=0.5,
                                    steps=2000, records=25)),
    },
    "beyond_lazy": {
        # where the linear picture ends: a one-hidden-layer ReLU MLP on a single-index task
        # (y = He_degree(<w*, x>), ntklib.data.single_index); alpha: Chizat's alpha at one
        # width; widths: NTK (alpha = 1) vs mean-field (alpha = n^-1/2); smooth: exercise 1's erf
        # network with biases on an odd target.
        "ci": dict(task=dict(n_train=256, n_test=512, input_dim=16, degree=2, seed=0),
                   sigma_w2=2.0, lr_fraction=0.5, steps=1000,
                   alpha=dict(width=512, alphas=(0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0),
                              seeds=(0, 1, 2), fit_min=1.0),
                   widths=dict(widths=(64, 128, 256, 512, 1024), seeds=(0, 1, 2)),
                   smooth=dict(sigma_w2=1.0, sigma_b2=1.0, degree=3,
                               alphas=(2.0, 4.0, 8.0, 16.0), seeds=(0, 1, 2))),
        "paper": dict(task=dict(n_train=1024, n_test=1024, input_dim=32, degree=2, seed=0),
                      sigma_w2=2.0, lr_fraction=0.5, steps=4000,
                      alpha=dict(width=4096, alphas=tuple(2.0 ** k for k in range(-4, 6)),
                                 seeds=(0, 1, 2, 3, 4), fit_min=1.0),
                      widths=dict(widths=tuple(2 ** i for i in range(6, 14)),
                                  seeds=(0, 1, 2, 3, 4)),
                      smooth=dict(sigma_w2=1.0, sigma_b2=1.0, degree=3,
                                  alphas=tuple(2.0 ** k for k in range(0, 6)),
                                  seeds=(0, 1, 2, 3, 4))),
    },
}


def scale() -> str:
    """The active scale, from the NTKLIB_SCALE environment variable (default "ci")."""
    value = os.environ.get("NTKLIB_SCALE", "ci").strip().lower()
    if value not in SCALES:
        raise ValueError(f"NTKLIB_SCALE must be one of {SCALES}, got NTKLIB_SCALE={value!r}")
    return value


class Settings(SimpleNamespace):
    """A chapter's settings as attributes, one nested Settings per experiment; read-only
    (assigning raises, so a notebook cannot silently run with a value other than the one the
    book states)."""

    def __init__(self, **values):
        super().__init__(**{k: Settings(**val) if isinstance(val, dict) else val
                            for k, val in values.items()})

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"settings are read-only: cannot set {name!r}; change ntklib/config.py "
                             "or pick another scale with NTKLIB_SCALE")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"settings are read-only: cannot delete {name!r}")


def _kind(value) -> str:
    """The type a setting keeps at every scale: bool, number (int or float), str, optional (None:
    "not used at this scale", compatible with any kind), or a tuple/dict of those, recursively."""
    if value is None:
        return "optional"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, tuple):
        return "tuple[" + "|".join(sorted({_kind(v) for v in value})) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_kind(v)}" for k, v in sorted(value.items())) + "}"
    raise TypeError(f"unsupported setting type {type(value).__name__}: {value!r}")


def _mismatch(a, b, path: str) -> str | None:
    """Where settings ``a`` and ``b`` differ in kind (None matches anything), or None."""
    if a is None or b is None:
        return None
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key} present at one scale only"
            found = _mismatch(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if _kind(a) != _kind(b):
        return f"{path}: {_kind(a)} vs {_kind(b)} ({a!r} vs {b!r})"
    return None


def schema(chapter: str) -> dict[str, str]:
    """The typed shape of a chapter's settings — each key's kind, nested experiments included,
    read from the ``ci`` entry — after checking that every scale has the same keys and kinds
    (checked for every chapter at import: a key or a type present at one scale only is an
    error, so the ``paper`` switch can never meet a missing or mistyped setting).

    >>> schema("beyond_optimizers")["seed"]
    'number'
    """
    if chapter not in _SETTINGS:
        raise ValueError(f"unknown chapter {chapter!r}; known: {sorted(_SETTINGS)}")
    entries = _SETTINGS[chapter]
    for other in SCALES[1:]:
        found = _mismatch(entries[SCALES[0]], entries[other], chapter)
        if found:
            raise TypeError(f"settings differ between {SCALES[0]!r} and {other!r}: {found}")
    return {k: _kind(v) for k, v in entries[SCALES[0]].items()}


for _chapter in _SETTINGS:
    schema(_chapter)


def settings(chapter: str) -> Settings:
    """The settings of ``chapter`` at the active scale, as read-only attributes.

    >>> cfg = settings("beyond_optimizers")
    >>> cfg.scale, cfg.momentum.beta
    ('ci', 0.9)
    """
    if chapter not in _SETTINGS:
        raise ValueError(f"unknown chapter {chapter!r}; known: {sorted(_SETTINGS)}")
    values = dict(_SETTINGS[chapter][scale()])
    return Settings(scale=scale(), **values)


def all_settings():
    """Every chapter's settings at both scales (read-only view, for the README and tests)."""
    return MappingProxyType(_SETTINGS)
