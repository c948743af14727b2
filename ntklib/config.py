"""The scale switch: NTKLIB_SCALE=ci (default; each notebook ~1 min on 2 CPU cores) or paper.

Every chapter reads its widths, dataset sizes, step counts and seeds from :func:`settings`,
so switching scale changes numbers, never code paths.
"""

from __future__ import annotations

import os
from types import MappingProxyType, SimpleNamespace

__all__ = [
    "SCALES", "scale", "Settings", "settings", "all_settings",
]

SCALES = ("ci", "paper")

_SETTINGS = {
    "introduction": {
        "ci": dict(n_train=2, width=4096, depth=3, seeds=(0,)),
        "paper": dict(n_train=2, width=16384, depth=3, seeds=(0,)),
    },
    "ntk": {
        "ci": dict(agree_n=16, agree_width=256, timing_depth=2, timing_widths=(64, 256, 1024),
                   timing_n=32, timing_width=256, timing_sizes=(8, 32, 128), timing_repeats=3,
                   mc_points=16, mc_input_dim=64, mc_widths=tuple(2 ** i for i in range(3, 13)),
                   mc_samples=tuple(2 ** i for i in range(0, 7)), mc_replicates=4,
                   mc_deep_samples=(1, 2), mc_deep_replicates=4,
                   train_n=64, train_widths=(64, 128, 256, 512, 1024), train_seeds=(0, 1, 2),
                   train_steps=256, train_records=12, lr_fraction=0.5, train_depth=3,
                   spectrum_depths=(1, 3, 5), block_widths=(64, 128, 256, 512, 1024),
                   fluct_depths=(1, 2, 4, 8), fluct_width=256),
        "paper": dict(agree_n=64, agree_width=1024, timing_depth=2, timing_widths=(64, 256, 1024, 4096),
                      timing_n=32, timing_width=256, timing_sizes=(8, 32, 128, 512), timing_repeats=5,
                      mc_points=32, mc_input_dim=1024, mc_widths=tuple(2 ** i for i in range(3, 14)),
                      mc_samples=tuple(2 ** i for i in range(0, 9)), mc_replicates=8,
                      mc_deep_samples=(1, 2, 4, 8, 16), mc_deep_replicates=8,
                      train_n=128, train_widths=tuple(2 ** i for i in range(4, 13)), train_seeds=(0, 1, 2, 3),
                      train_steps=4096, train_records=20, lr_fraction=0.5, train_depth=3,
                      spectrum_depths=(1, 3, 5), block_widths=tuple(2 ** i for i in range(6, 13)),
                      fluct_depths=(1, 2, 4, 8, 16), fluct_width=1024),
    },
    "linearization": {
        "ci": dict(exact_width=512, exact_n_train=64, exact_n_test=64, exact_steps=200,
                   fig3_depth=3, fig3_width=2048, fig3_n_train=128, fig3_n_test=128, fig3_steps=500,
                   fig3_lr_fraction=0.5, fig3_records=30,
                   sweep_widths=(64, 128, 256, 512), sweep_depths=(1, 2, 4), sweep_n_train=128,
                   sweep_sizes=(32, 128, 512), sweep_size_depth=2, sweep_n_test=128, sweep_seeds=(0, 1),
                   sweep_steps=200, sweep_lr_fraction=0.5,
                   ens_depth=2, ens_width=512, ens_members=200, ens_member_batch=None, ens_n_train=32,
                   ens_sigma_w2=1.5, ens_record=(0, 2, 6, 20, 60), ens_lr_fraction=0.9, ens_alphas=51,
                   seed=0),
        "paper": dict(exact_width=2048, exact_n_train=128, exact_n_test=128, exact_steps=1000,
                      fig3_depth=5, fig3_width=2048, fig3_n_train=256, fig3_n_test=256, fig3_steps=5000,
                      fig3_lr_fraction=0.5, fig3_records=40,
                      sweep_widths=tuple(2 ** i for i in range(5, 13)), sweep_depths=(1, 2, 4, 8, 16),
                      sweep_n_train=128, sweep_sizes=(32, 128, 512, 1536), sweep_size_depth=2,
                      sweep_n_test=256, sweep_seeds=(0, 1, 2, 3), sweep_steps=2000, sweep_lr_fraction=0.5,
                      ens_depth=3, ens_width=8192, ens_members=100, ens_member_batch=10, ens_n_train=128,
                      ens_sigma_w2=1.5, ens_record=(0, 4, 16, 64, 256, 4096), ens_lr_fraction=0.9,
                      ens_alphas=101, seed=0),
    },
    "parameterization": {
        "ci": dict(dataset="digits", n_train=64, n_test=64, depth=3, lr_fraction=0.5,
                   widths=(16, 32, 64, 128, 256, 512, 1024, 2048), fit_min_width=128, seeds=(0, 1, 2),
                   steps=200, widths_1l=(128, 256, 512, 1024, 2048, 4096, 8192, 16384), steps_1l=200,
                   init_widths=(8, 32, 128, 512), init_seeds=1000, init_points=8,
                   narrow_widths=(8, 16, 32, 64), narrow_seeds=tuple(range(16)),
                   sp_widths=(32, 64, 128, 256, 512), gap_width=256, gap_steps=100),
        "paper": dict(dataset="mnist", n_train=128, n_test=128, depth=3, lr_fraction=0.5,
                      widths=(16, 32, 64, 128, 256, 512, 1024, 2048, 4096), fit_min_width=128,
                      seeds=(0, 1, 2, 3), steps=2 ** 17,
                      widths_1l=(32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384), steps_1l=2 ** 16,
                      init_widths=(8, 32, 128, 512, 2048), init_seeds=4000, init_points=16,
                      narrow_widths=(8, 16, 32, 64), narrow_seeds=tuple(range(64)),
                      sp_widths=(32, 64, 128, 256, 512, 1024, 2048), gap_width=2048,
                      gap_steps=1000),
    },
    "gronwall": {
        "ci": dict(n_train=64, n_test=64, activation="erf", depth=1, widths=(256, 512, 1024, 2048, 4096),
                   seeds=(0, 1, 2), lr_fraction=0.5, steps=400, records=30,
                   sweep_n_train=64, sweep_width=512, sweep_depths=(1, 3), sweep_activations=("tanh", "relu"),
                   sweep_multipliers=(0.5, 0.8, 1.2, 1.6, 2.0, 2.5, 3.2, 4.0, 5.0, 6.4, 8.0, 10.0, 16.0),
                   sweep_steps=300, sweep_seeds=(0, 1)),
        "paper": dict(n_train=128, n_test=128, activation="erf", depth=3,
                      widths=(256, 512, 1024, 2048, 4096, 8192), seeds=(0, 1, 2, 3, 4), lr_fraction=0.5,
                      steps=600, records=40,
                      sweep_n_train=128, sweep_width=2048, sweep_depths=(1, 3), sweep_activations=("tanh", "relu"),
                      sweep_multipliers=(0.5, 0.7, 0.9, 1.1, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.5, 2.8, 3.2, 4.0,
                                         5.0, 6.4, 8.0, 10.0, 12.8, 16.0),
                      sweep_steps=1000, sweep_seeds=(0, 1, 2)),
    },
    "beyond": {
        # 05_beyond_optimizers: momentum (Fig. 4/S2), cross-entropy (S3), logit deviation vs width (S4);
        # 06_beyond_architectures: CNN (S2/S5), NTK vs standard parameterization (S7, S8).
        # *_data: "digits" (bundled, offline) at ci; real data (ntklib.data.load: MNIST, CIFAR-10) at paper.
        "ci": dict(seed=0, seeds=(0, 1),
                   mom_data="digits", mom_n=128, mom_depth=3, mom_width=512, mom_steps=200,
                   mom_beta=0.9, mom_lr_fraction=0.05, mom_records=15,
                   ce_data="digits", ce_n=256, ce_depth=2, ce_width=512, ce_lr=1.0, ce_batch=32,
                   ce_steps=400, ce_records=15,
                   dev_data="digits", dev_n=64, dev_depth=4, dev_widths=(32, 64, 128, 256, 512),
                   dev_lr=1.0, dev_steps=500, dev_records=20, dev_threshold=0.05,
                   conv_data="digits", conv_n=64, conv_depth=2, conv_channels=(8, 16, 32, 64),
                   conv_lr_fraction=0.02, conv_beta=0.9, conv_steps=150, conv_records=12,
                   par_data="digits", par_n=128, par_depth=2, par_width=512,
                   par_log2_fractions=tuple(range(-6, 5)), par_steps=200,
                   sp_data="digits", sp_n=128, sp_depth=3, sp_width=1024, sp_lr_fraction=0.5,
                   sp_steps=300, sp_records=15),
        "paper": dict(seed=0, seeds=(0, 1, 2),
                      mom_data="cifar10", mom_n=128, mom_depth=3, mom_width=2048, mom_steps=2000,
                      mom_beta=0.9, mom_lr_fraction=0.05, mom_records=25,
                      ce_data="mnist", ce_n=2048, ce_depth=2, ce_width=2048, ce_lr=1.0, ce_batch=64,
                      ce_steps=5000, ce_records=25,
                      dev_data="mnist", dev_n=256, dev_depth=4,
                      dev_widths=(32, 64, 128, 256, 512, 1024, 2048, 4096),
                      dev_lr=1.0, dev_steps=5000, dev_records=30, dev_threshold=0.05,
                      conv_data="cifar10", conv_n=128, conv_depth=3, conv_channels=(16, 32, 64, 128, 256),
                      conv_lr_fraction=0.02, conv_beta=0.9, conv_steps=1000, conv_records=15,
                      par_data="mnist", par_n=512, par_depth=2, par_width=1024,
                      par_log2_fractions=tuple(range(-9, 6)), par_steps=1000,
                      sp_data="cifar10", sp_n=256, sp_depth=5, sp_width=2048, sp_lr_fraction=0.5,
                      sp_steps=2000, sp_records=25),
    },
    # chapters add their own entry: {"ci": {...}, "paper": {...}} with the same keys in both
}


def scale() -> str:
    """The active scale, from the NTKLIB_SCALE environment variable (default "ci")."""
    value = os.environ.get("NTKLIB_SCALE", "ci").strip().lower()
    if value not in SCALES:
        raise ValueError(f"NTKLIB_SCALE must be one of {SCALES}, got NTKLIB_SCALE={value!r}")
    return value


class Settings(SimpleNamespace):
    """A chapter's settings as attributes; read-only (assigning raises, so a notebook cannot
    silently run with a value other than the one the book states)."""

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"settings are read-only: cannot set {name!r}; change ntklib/config.py "
                             "or pick another scale with NTKLIB_SCALE")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"settings are read-only: cannot delete {name!r}")


def settings(chapter: str) -> Settings:
    """The settings of ``chapter`` at the active scale, as read-only attributes.

    >>> cfg = settings("introduction")
    >>> cfg.scale
    'ci'
    """
    if chapter not in _SETTINGS:
        raise ValueError(f"unknown chapter {chapter!r}; known: {sorted(_SETTINGS)}")
    values = dict(_SETTINGS[chapter][scale()])
    return Settings(scale=scale(), **values)


def all_settings():
    """Every chapter's settings at both scales (read-only view, for the README and tests)."""
    return MappingProxyType(_SETTINGS)
