"""Worked solutions of the problem sets' numerical problems (instructors only).

One function per numerical problem, named after its lecture and problem
(``p3_2`` is problem 2 of the problem set for lecture 3). Each returns a dict
of the numbers its written solution (``solutions_<k>.md``) quotes; the
solution marks every such number with ``<!-- p3_2:key -->`` and
``tests/test_problem_sets.py`` checks the quoted digits and the statement
made about them. Sizes are small: each function runs in seconds on two CPU
cores.

    PYTHONPATH=. python course/solutions/numerics.py p3_2   # print one
    PYTHONPATH=. python course/solutions/numerics.py        # print all
"""

from __future__ import annotations

import functools
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from ntklib import data, dynamics, kernels, models, stats
from ntklib.experiments import ntk as nx
from ntklib.experiments import parameterization as px

__all__ = ["PROBLEMS"]


def _binary_digits(n_train: int, n_test: int = 16, seed: int = 0) -> data.Dataset:
    """Even (+1) vs odd (-1) 8x8 digits, inputs normalized to ||x||^2 = 64."""
    return data.digits(n_train, n_test, binary=True, seed=seed)


# ------------------------------------------------------------------ lecture 1


def p1_2() -> dict:
    """Excess kurtosis of f_0(x), one hidden ReLU layer without biases: 15/n."""
    x = _binary_digits(32).x_train[:1]
    make = lambda w: models.mlp(1, w, sigma_b2=0.0)
    widths, n_seeds, batches = (8, 32), 200_000, 20
    out = px.init_outputs(make, x, widths, n_seeds, seed=0)
    result = {}
    for w in widths:
        f = out[w][:, 0]
        per_batch = scipy.stats.kurtosis(f.reshape(batches, -1), axis=1)
        result[f"kurt_{w}"] = float(scipy.stats.kurtosis(f))
        result[f"se_{w}"] = float(per_batch.std(ddof=1) / np.sqrt(batches))
        result[f"pred_{w}"] = 15.0 / w
    result["samples"] = n_seeds
    return result


def p1_3() -> dict:
    """Var f_0(x) against K(x, x) at widths 4 and 512 (two hidden ReLU layers)."""
    x = _binary_digits(32).x_train[:3]
    depth, n_seeds = 2, 10_000
    make = lambda w: models.mlp(depth, w)
    out = px.init_outputs(make, x, (4, 256), n_seeds, seed=0)
    nngp, _ = kernels.relu_kernels(x, depth=depth)
    k_diag = np.diag(nngp)
    result = {"k_mean": float(k_diag.mean()), "samples": n_seeds}
    for w, f in out.items():
        var = f.var(axis=0, ddof=1)
        rel = var / k_diag - 1
        # standard error of a sample variance: sqrt((excess kurtosis + 2) / (S - 1))
        se = np.sqrt((scipy.stats.kurtosis(f, axis=0) + 2) / (n_seeds - 1))
        worst = int(np.argmax(np.abs(rel) / se))
        result[f"rel_{w}"] = float(rel[worst])
        result[f"z_{w}"] = float(np.max(np.abs(rel) / se))
        result[f"kurt_{w}"] = float(scipy.stats.kurtosis(f, axis=0).mean())
    return result


def p1_4() -> dict:
    """Spread of a network's own eta_critical(Theta_hat_0) around the analytic one."""
    ds = _binary_digits(32)
    widths, n_seeds = (16, 32, 64, 128, 256), 20
    _, theta = kernels.relu_kernels(ds.x_train, depth=1)
    eta_inf = kernels.eta_critical(theta)
    sds, below = [], []
    for w in widths:
        net = models.mlp(1, w)
        ratios = np.array([
            kernels.eta_critical(kernels.empirical_ntk(net, net.init(s, ds.input_dim),
                                                       ds.x_train)) / eta_inf
            for s in range(n_seeds)])
        sds.append(ratios.std(ddof=1))
        below.append(np.mean(ratios < 0.9))
    fit = stats.fit_power_law_pooled(np.array(widths), np.array(sds))
    return {"exponent": fit.exponent, "ci_low": fit.ci_low, "ci_high": fit.ci_high,
            "sd_narrow": float(sds[0]), "sd_wide": float(sds[-1]),
            "below_narrow": float(below[0]), "below_wide": float(below[-1]),
            "width_min": widths[0], "width_max": widths[-1], "seeds": n_seeds}


# ------------------------------------------------------------------ lecture 2


def p2_1() -> dict:
    """Diagonal of the ReLU kernels with biases (sigma_w^2 = 2) against Problem 2.1."""
    x = _binary_digits(8).x_train
    sw2, sb2 = 2.0, 0.1
    k1 = sw2 * np.sum(x.astype(np.float64) ** 2, axis=1) / x.shape[1] + sb2
    worst = 0.0
    for depth in range(1, 7):
        nngp, ntk = kernels.relu_kernels(x, depth=depth, sigma_w2=sw2, sigma_b2=sb2)
        k_pred = k1 + depth * sb2
        t_pred = (depth + 1) * k1 + sb2 * depth * (depth + 1) / 2
        worst = max(worst, np.max(np.abs(np.diag(nngp) / k_pred - 1)),
                    np.max(np.abs(np.diag(ntk) / t_pred - 1)))
    return {"max_rel_dev": float(worst), "k1": float(k1.mean())}


def p2_2() -> dict:
    """Monte Carlo error of the kernel: (n, M) = (64, 1) against (16, 4)."""
    x = data.gaussian_inputs(16, 8, seed=0)
    frame = nx.monte_carlo_errors(x, depth=1, widths=[16, 64], samples=[1, 4],
                                  replicates=50, seed=0)
    rms = lambda e: np.sqrt(np.mean(e**2))
    ms = frame.groupby(["width", "samples"]).ntk_error.apply(rms)
    return {"rms_64_1": float(ms[(64, 1)]), "rms_16_4": float(ms[(16, 4)]),
            "rms_16_1": float(ms[(16, 1)]), "rms_64_4": float(ms[(64, 4)]),
            "ratio": float(ms[(64, 1)] / ms[(16, 4)]),
            "m_ratio": float(ms[(16, 1)] / ms[(16, 4)]), "replicates": 50}


def p2_3() -> dict:
    """eta_critical and the top eigenvalue's share of the trace against depth."""
    x = _binary_digits(64).x_train
    depths = list(range(1, 9))
    eta, share, diag = [], [], []
    for depth in depths:
        _, theta = kernels.relu_kernels(x, depth=depth)
        lam = np.linalg.eigvalsh(theta)
        eta.append(kernels.eta_critical(theta))
        share.append(lam[-1] / lam.sum())
        diag.append(np.mean(np.diag(theta)))
    eta, share, diag = map(np.array, (eta, share, diag))
    return {"eta_1": float(eta[0]), "eta_8": float(eta[-1]),
            "eta_ratio": float(eta[0] / eta[-1]),
            "diag_ratio": float(diag[-1] / diag[0]),
            "share_ratio": float(share[-1] / share[0]),
            # Problem 2.1 at L = 1 and 8, with K^1(x, x) = 2 + sigma_b^2 = 2.1
            "diag_ratio_formula": float((9 * 2.1 + 0.1 * 36) / (2 * 2.1 + 0.1)),
            "share_1": float(share[0]), "share_8": float(share[-1]),
            "eta_decreasing": bool(np.all(np.diff(eta) < 0)),
            "share_increasing": bool(np.all(np.diff(share) > 0)),
            "approx_1": float(eta[0] * share[0] * diag[0] / 2),
            "approx_8": float(eta[-1] * share[-1] * diag[-1] / 2)}


# ------------------------------------------------------------------ lecture 3


def p3_3() -> dict:
    """The linear model at s = infinity does not depend on the learning rate."""
    ds = _binary_digits(32, 32)
    net = models.mlp(1, 256)
    pred = dynamics.linear_predictor(net, net.init(0, ds.input_dim), ds.x_train,
                                     ds.y_train, ds.x_test)
    eta_c = kernels.eta_critical(kernels.empirical_ntk(net, net.init(0, ds.input_dim),
                                                       ds.x_train))
    lo, hi = 0.3 * eta_c, 0.9 * eta_c
    tr_lo, te_lo = pred.predict(np.inf, lr=lo)
    tr_hi, te_hi = pred.predict(np.inf, lr=hi)
    scale = np.max(np.abs(te_hi))
    steps = 30  # the same time t = 0.9 eta_c * 30 = 0.3 eta_c * 90
    _, te_fin_hi = pred.predict(steps, lr=hi)
    _, te_fin_lo = pred.predict(3 * steps, lr=lo)
    return {"inf_gap": float(np.max(np.abs(te_hi - te_lo)) / scale),
            "train_fit": float(np.max(np.abs(tr_hi - ds.y_train))),
            "finite_gap": float(np.max(np.abs(te_fin_hi - te_fin_lo)) / scale),
            "steps": steps}


def p3_4() -> dict:
    """sup_t of the test RMSE between an erf network and f_lin, against width."""
    ds = _binary_digits(32, 32)
    widths, seeds, steps = (64, 128, 256, 512), (0, 1), 200
    make = lambda w: models.mlp(1, w, activation="erf", sigma_w2=1.5, sigma_b2=0.05)
    _, theta = kernels.erf_kernels(ds.x_train, depth=1, sigma_w2=1.5, sigma_b2=0.05)
    lr = 0.5 * kernels.eta_critical(theta)
    gaps = np.zeros((len(seeds), len(widths)))
    loss_ratio = 0.0
    for j, w in enumerate(widths):
        net = make(w)
        for i, s in enumerate(seeds):
            p0 = net.init(s, ds.input_dim)
            run = dynamics.gradient_descent(net.apply_fn, p0, ds.x_train, ds.y_train,
                                            lr=lr, steps=steps, x_test=ds.x_test)
            pred = dynamics.linear_predictor(net, p0, ds.x_train, ds.y_train, ds.x_test)
            _, lin = pred.predict(run.steps, lr=lr)
            gaps[i, j] = np.max(stats.rmse(run.f_test, lin, axis=(1, 2)))
            loss_ratio = max(loss_ratio, run.loss_train[-1] / run.loss_train[0])
    fit = stats.fit_power_law_pooled(np.array(widths), gaps)
    return {"exponent": fit.exponent, "ci_low": fit.ci_low, "ci_high": fit.ci_high,
            "loss_ratio_max": float(loss_ratio),
            "gap_narrow": float(stats.gmean(gaps[:, 0])),
            "gap_wide": float(stats.gmean(gaps[:, -1])), "steps": steps}


# ------------------------------------------------------------------ lecture 4


def p4_3() -> dict:
    """f - f_lin along a fixed direction: doubling the step multiplies it by ~4."""
    ds = _binary_digits(32)
    with jax.experimental.enable_x64():
        net = models.mlp(1, 256, activation="erf", sigma_w2=1.5, sigma_b2=0.05)
        p0 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64),
                                    net.init(0, ds.input_dim))
        x = jnp.asarray(ds.x_train[:4], jnp.float64)
        leaves, treedef = jax.tree_util.tree_flatten(p0)
        keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
        v = [jax.random.normal(k, a.shape, jnp.float64) for k, a in zip(keys, leaves)]
        norm = jnp.sqrt(sum(jnp.sum(a**2) for a in v))
        v = jax.tree_util.tree_unflatten(treedef, [a / norm for a in v])
        lin = models.linearize(net.apply_fn, p0)

        def gap(eps):
            p = jax.tree_util.tree_map(lambda a, d: a + eps * d, p0, v)
            return np.asarray(net.apply_fn(p, x) - lin(p, x))[:, 0]

        g1, g2 = gap(0.25), gap(0.5)
        f_scale = float(np.max(np.abs(np.asarray(net.apply_fn(p0, x)))))
    ratios = g2 / g1
    return {"ratio_min": float(ratios.min()), "ratio_max": float(ratios.max()),
            "gap_max": float(np.max(np.abs(g2))), "f_scale": f_scale}


def p4_4() -> dict:
    """Distance travelled by an erf network, its linear model's and Step 5's bound."""
    ds = _binary_digits(32)
    widths, steps = (128, 512, 2048), 200
    sw2, sb2 = 1.5, 0.05
    lam_inf = np.linalg.eigvalsh(
        kernels.erf_kernels(ds.x_train, depth=1, sigma_w2=sw2, sigma_b2=sb2)[1])
    lr = 0.5 * 2 * ds.n_train / (lam_inf[0] + lam_inf[-1])
    result = {}
    for w in widths:
        net = models.mlp(1, w, activation="erf", sigma_w2=sw2, sigma_b2=sb2)
        p0 = net.init(0, ds.input_dim)
        run = dynamics.gradient_descent(net.apply_fn, p0, ds.x_train, ds.y_train,
                                        lr=lr, steps=steps, record=[steps])
        dist = models.parameter_distance(p0, run.params_final)
        theta0 = kernels.empirical_ntk(net, p0, ds.x_train).astype(np.float64)
        lam, vecs = np.linalg.eigh(theta0)
        g0 = np.asarray(net.apply_fn(p0, ds.x_train), np.float64) - ds.y_train
        c = vecs.T @ g0[:, 0]
        _, ratio = dynamics.residual_filter(lam, lr, ds.n_train, np.array([steps]))
        lin = float(np.sqrt(np.sum(np.clip(lam, 0, None) * ratio[0] ** 2 * c**2)))
        bound = 3 * np.sqrt(np.trace(theta0)) * np.linalg.norm(g0) / lam_inf[0]
        result[f"dist_{w}"] = dist
        result[f"rel_{w}"] = abs(dist - lin) / lin
        result[f"bound_over_{w}"] = float(bound / dist)
    result["bound_over_min"] = min(result[f"bound_over_{w}"] for w in widths)
    return result


# ------------------------------------------------------------------ lecture 5


def p5_1() -> dict:
    """Heavy ball with Polyak's eta and beta: every mode contracts by sqrt(beta)."""
    x = _binary_digits(64).x_train
    _, theta = kernels.relu_kernels(x, depth=2)
    lam = np.linalg.eigvalsh(theta)
    n = x.shape[0]
    kappa = lam[-1] / lam[0]
    root = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    beta = root**2
    lr = (1 + root) ** 2 * n / lam[-1]
    modes = dynamics.heavy_ball_modes(lam, lr, n, beta)
    gd = (kappa - 1) / (kappa + 1)
    return {"kappa": float(kappa), "beta": float(beta),
            "sqrt_kappa": float(np.sqrt(kappa)),
            "contraction_dev": float(np.max(np.abs(modes.contraction - root))),
            "hb_rate": float(root), "gd_rate": float(gd),
            "speedup": float(np.log(root) / np.log(gd)),
            "lr_low_check": float(lr * lam[0] / n - (1 - root) ** 2)}


def p5_2() -> dict:
    """Three underdamped modes: contraction sqrt(beta) per step whatever x is."""
    beta, xs = 0.9, np.array([0.5, 1.0, 2.0])
    modes = dynamics.heavy_ball_modes(xs, 1.0, 1, beta)
    steps = np.arange(0, 301)
    decay, _ = dynamics.residual_filter(xs, 1.0, 1, steps, momentum=beta)
    envelope = lambda lo, hi: np.max(np.abs(decay[lo:hi]), axis=0)
    measured = (envelope(250, 301) / envelope(150, 201)) ** (1 / 100)
    return {"contraction_dev": float(np.max(np.abs(modes.contraction - np.sqrt(beta)))),
            "sqrt_beta": float(np.sqrt(beta)),
            "measured_min": float(measured.min()),
            "measured_max": float(measured.max()),
            "regimes": "/".join(modes.regime), "period_min": float(modes.period.min()),
            "period_max": float(modes.period.max())}


def p5_3() -> dict:
    """Heavy ball: sup_t of the test RMSE between network and f_lin, against width."""
    ds = _binary_digits(32, 32)
    widths, beta, steps = (64, 256, 1024), 0.9, 150
    _, theta = kernels.relu_kernels(ds.x_train, depth=1)
    lr = 0.25 * kernels.eta_critical(theta)
    gaps = []
    for w in widths:
        net = models.mlp(1, w)
        p0 = net.init(0, ds.input_dim)
        run = dynamics.gradient_descent(net.apply_fn, p0, ds.x_train, ds.y_train, lr=lr,
                                        steps=steps, x_test=ds.x_test, momentum=beta)
        pred = dynamics.linear_predictor(net, p0, ds.x_train, ds.y_train, ds.x_test)
        _, lin = pred.predict(run.steps, lr=lr, momentum=beta)
        gaps.append(np.max(stats.rmse(run.f_test, lin, axis=(1, 2))))
    fit = stats.fit_power_law_pooled(np.array(widths), np.array(gaps))
    return {"exponent": fit.exponent, "gap_64": float(gaps[0]),
            "gap_256": float(gaps[1]),
            "gap_1024": float(gaps[2]),
            "decreasing": bool(np.all(np.diff(gaps) < 0)),
            "loss_final": float(run.loss_train[-1] / run.loss_train[0])}


# ------------------------------------------------------------------ lecture 6


@functools.lru_cache(maxsize=1)
def _scaled_runs(alphas=(1.0, 4.0, 16.0, 64.0), width: int = 32,
                 steps: int = 300) -> dict:
    """Train alpha * (f(theta) - f(theta_0)) on loss / alpha^2 (Chizat et al.)."""
    ds = _binary_digits(32, 32)
    net = models.mlp(1, width, activation="erf", sigma_w2=1.5, sigma_b2=0.05)
    p0 = net.init(0, ds.input_dim)
    theta0 = kernels.empirical_ntk(net, p0, ds.x_train)
    theta0_x = kernels.empirical_ntk(net, p0, ds.x_test, ds.x_train)
    eta = 0.5 * kernels.eta_critical(theta0)
    zeros_tr, zeros_te = np.zeros(ds.y_train.shape), np.zeros(ds.y_test.shape)
    out = {}
    for a in alphas:
        def scaled(params, x, a=a):
            return a * (net.apply_fn(params, x) - net.apply_fn(p0, x))

        run = dynamics.gradient_descent(scaled, p0, ds.x_train, ds.y_train,
                                        lr=eta / a**2, steps=steps, x_test=ds.x_test)
        pred = dynamics.LinearPredictor.from_kernels(a**2 * theta0, a**2 * theta0_x,
                                                     zeros_tr, zeros_te, ds.y_train)
        _, lin = pred.predict(run.steps, lr=eta / a**2)
        theta_t = kernels.empirical_ntk(net, run.params_final, ds.x_train)
        out[a] = {"kernel_change": float(np.linalg.norm(theta_t - theta0)
                                         / np.linalg.norm(theta0)),
                  "gap": float(np.max(stats.rmse(run.f_test, lin, axis=(1, 2)))),
                  "loss_ratio": float(run.loss_train[-1] / run.loss_train[0]),
                  "distance": models.parameter_distance(p0, run.params_final)}
    return out


def p6_3() -> dict:
    """Relative kernel change of the scaled model at alpha = 1, 4, 16, 64 (width 32)."""
    runs = _scaled_runs()
    alphas = np.array(sorted(runs))
    change = np.array([runs[a]["kernel_change"] for a in alphas])
    fit = stats.fit_power_law_pooled(alphas, change)
    out = {f"kc_{a:.0f}": float(c) for a, c in zip(alphas, change)}
    out.update(exponent=fit.exponent, ratio=float(change[0] / change[2]),
               dist_1=runs[1.0]["distance"], dist_64=runs[64.0]["distance"])
    return out


def p6_4() -> dict:
    """sup_t test RMSE between the scaled model and its linearization, against alpha."""
    runs = _scaled_runs()
    alphas = np.array(sorted(runs))
    gaps = np.array([runs[a]["gap"] for a in alphas])
    fit = stats.fit_power_law_pooled(alphas, gaps)
    return {"exponent": fit.exponent, "ci_low": fit.ci_low, "ci_high": fit.ci_high,
            "gap_1": float(gaps[0]), "gap_64": float(gaps[-1]),
            "loss_max": float(max(r["loss_ratio"] for r in runs.values()))}


PROBLEMS = {f.__name__: f for f in (p1_2, p1_3, p1_4, p2_1, p2_2, p2_3, p3_3, p3_4,
                                    p4_3, p4_4, p5_1, p5_2, p5_3, p6_3, p6_4)}


def main(argv: list[str]) -> None:
    for name in argv or list(PROBLEMS):
        start = time.perf_counter()
        values = PROBLEMS[name]()
        seconds = time.perf_counter() - start
        print(f"{name} ({seconds:.1f} s):")
        for key, value in values.items():
            print(f"    {key} = {value}")


if __name__ == "__main__":
    main(sys.argv[1:])
