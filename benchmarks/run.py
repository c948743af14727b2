"""Benchmark suite for ntklib (issue: fast width sweeps). One command:

    make bench            # or: .venv/bin/python benchmarks/run.py [--quick] [--skip-book]

Writes benchmarks/results/latest.md (a markdown table per section; medians over repeats) and
prints it. Timings are wall-clock medians after one warm-up (compilation excluded); memory is
XLA's compiled peak (arguments + outputs + temporaries) of each jitted computation.
"""

from __future__ import annotations

import argparse
from functools import partial
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")

import ntklib  # noqa: E402  (quiet TensorFlow first)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from ntklib import data, dynamics, kernels, models  # noqa: E402

nt = models.nt
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"


NOTES = {
    "gd": "The floor is the matmul FLOPs of one gradient (column 4; formula in `mlp_step_flops`) at "
          "the measured square-matmul rate; XLA's count (column 5) adds the elementwise work. Both "
          "rows run plain GD as `dynamics.gradient_descent` does for momentum 0: `lax.fori_loop` "
          "inside one jit (no host round-trips, outputs recorded only on a log-spaced grid), and "
          "no velocity carried. What dominates the three-layer net: its 2048×2048 matmuls. On XLA's "
          "CPU backend the backward product c @ Wᵀ runs 5–10x below the matmul rate for a large W; "
          "`ntklib`'s MLP computes it as (W cᵀ)ᵀ (`models.dense_product`, a custom JVP rule), which "
          "is most of its lead over the stax `apply_fn` of the same layers. What dominates the "
          "one-layer net: memory traffic, not FLOPs. With 64 inputs its two matmuls do only 4·64 "
          "FLOPs per hidden activation, while every step also makes about five passes over the "
          "128×16384 activations that the floor does not count (bias + ReLU, the derivative mask, "
          "the bias gradient, and the readout's two products, which read them) — column 9 is the "
          "measured cost of one such pass. XLA's CPU backend does not fuse elementwise work into "
          "matmuls, so `ntklib` avoids extra passes and keeps the working set small: the NTK scale "
          "σ_w/√n multiplies the smaller of x and xW, plain GD carries no velocity, and the ReLU's "
          "derivative mask is read off its output, 1[φ(h) > 0], so the pre-activation h is dead "
          "once φ(h) exists and XLA reuses its buffer (one 8 MiB array less in the step's working "
          "set, which on this machine's 32 MiB L3 cache alone made the one-layer step 12–17% "
          "faster, measured interleaved; the three-layer step is unchanged). Also tried, without "
          "a consistent gain: the bias gradient as a matrix-vector product or folded into the "
          "weight-gradient matmul, splitting the hidden layer into column blocks, XLA's XNNPACK, "
          "oneDNN and scheduler options; "
          "`XLA_FLAGS=--xla_cpu_use_thunk_runtime=false` (XLA's older CPU runtime) is fast, but "
          "aborts the process in XLA's HLO evaluator on chapter 2's jitted initialization. Timing: "
          "four interleaved rounds at the start of the run and four at its end, best reported; "
          "the last column is the slowest round over the best. The memory bandwidth this shared "
          "machine leaves to a process changes over minutes (the memory-bound one-layer step has "
          "run 1.5x slower for a whole minute of rounds), which is why one batch of rounds is "
          "not enough.",
    "ntk": "What dominates: for `ntklib (MLP)` (the fast path `kernels.structured_ntk` registers for the MLP spec) the per-layer products x^{l-1}x'^{l-1ᵀ} and δ^l δ'^{lᵀ}, "
           "O(N² Σ n_l) — the Jacobian (N·k·P numbers) is never formed, which is why it is 1–2 orders "
           "faster than every generic method. The generic `apply_fn` path (any model, e.g. the CNN and "
           "ResNet of chapter 6) either contracts per-example Jacobians (memory-bound: N·k·P floats read N times) "
           "or forms J(x2)ᵀ and pushes it through a JVP at each x1 (NTK-vector products, fewer bytes, "
           "more FLOPs); `auto` takes vector products up to `VECTOR_PRODUCT_MAX_COLUMNS` columns N2·k, "
           "the crossover measured here, so it tracks the better of neural-tangents' two methods. "
           "Times: best of three interleaved rounds, each the median of five calls.",
    "budget": "With `max_jacobian_bytes` below the size of the full Jacobian, both generic methods work "
              "in blocks of inputs; XLA's compiled peak memory per block stays near the budget while the "
              "result matches the exact kernel to float32 rounding.",
    "flin": "What dominates: weight-space GD of f_lin pays one JVP + VJP of the linearized network per "
            "step (twice a network step); the closed form pays one empirical NTK (structured formula) and "
            "one N×N eigendecomposition per network, after which any time grid is free.",
    "memory": "Bytes in float32 for N1, N2 inputs, k outputs, widths n_1…n_L, P parameters. "
              "`empirical_ntk` of an MLP model: 4·k·(N1+N2)·Σ n_l (back-propagated δ^l) + 4·(N1+N2)·Σ n_l "
              "(activations) + 4·N1·k·N2·k (Θ̂, plus one per-layer term of the same size). "
              "Generic Jacobian contraction: 2·4·B·k·P per block of B inputs, B chosen so that this "
              "is ≤ `max_jacobian_bytes`; vector products: 2·4·B·k·P for a block of B inputs of x1. "
              "When Θ̂ itself (4·N1·k·N2·k) exceeds the device, `empirical_ntk(..., batch_size=b)` and "
              "`analytic_kernels(..., batch_size=b)` compute (b·k)² tiles on the device and assemble "
              "Θ̂ in host memory (`nt.batch`-style). JAX places every computation on the default "
              "device, so the same calls run on a GPU at paper scale.",
    "book": "What dominates: the width sweeps of chapters 1, 2 and 4 (training many networks) and the "
            "ensemble of chapter 3; a rebuild with nothing changed only renders pages from the "
            "execution cache.",
}


def median_time(fn, repeats: int = 5) -> float:
    """Median wall time of fn() (result blocked) after one warm-up call."""
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def peak_bytes(jitted, *args) -> int:
    """XLA's compiled memory: arguments + outputs + temporaries."""
    stats = jitted.lower(*args).compile().memory_analysis()
    return int(stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes)


def table(headers, rows) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def mib(b: float) -> str:
    return f"{b / 2**20:.1f}"


# ----------------------------------------------------------------------------- matmul rate


def best_median(fn, rounds: int = 3, repeats: int = 3) -> float:
    """The best of ``rounds`` medians of ``repeats`` timed calls: this machine is shared, and the
    memory bandwidth left to it varies between rounds (the spread is reported where it matters)."""
    return min(median_time(fn, repeats=repeats) for _ in range(rounds))


def matmul_rate(n: int = 2048) -> float:
    """Measured f32 GFLOP/s of an n×n matmul (the FLOP floor's unit), best round."""
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n))
    f = jax.jit(lambda a: a @ a)
    return 2 * n ** 3 / best_median(lambda: f(a), repeats=5) / 1e9


# ----------------------------------------------------------------------------- GD steps


def mlp_step_flops(widths: list[int], n: int) -> int:
    """Matmul FLOPs of one loss gradient of an MLP with layer widths n_0 (input), ..., n_L on n
    inputs: 2n Σ n_{l-1} n_l forward, as much again for the weight gradients, and 2n Σ_{l≥2}
    n_{l-1} n_l for the back-propagated δ^{l-1} = δ^l Wᵀ (none for the input layer)."""
    products = [a * b for a, b in zip(widths[:-1], widths[1:])]
    return 2 * n * (2 * sum(products) + sum(products[1:]))


class GDStepTimings:
    """Time per full-batch GD step (jit + fori_loop) vs the FLOP floor of forward + backward,
    for ntklib's MLP ``apply_fn`` and neural-tangents' stax ``apply_fn`` of the same layers, and
    the cost of one read-and-write pass over the N × width activations.

    The step is memory-bound for a wide one-layer net, and this machine is shared: the memory
    bandwidth left to it changes over minutes. So timing rounds are taken more than once in a
    run (``measure``: at its start and at its end), each round interleaving the two
    implementations; the table reports the best round and the slowest/best spread. The floor
    uses the best matmul rate measured (the strictest floor)."""

    STEPS = 20

    def __init__(self, quick: bool):
        configs = [(1, 16384, 128), (3, 2048, 128)] if not quick else [(1, 4096, 64), (3, 512, 64)]
        ds = data.digits(128, 8, binary=True)
        self.rates, self.rounds, self.configs = [], [], []
        key = jax.random.PRNGKey(0)
        for depth, width, n in configs:
            net = models.mlp(depth, width)
            params = net.init(0, 64)
            x, y = ds.x_train[:n], ds.y_train[:n]
            # XLA's own count for the same gradient (adds the elementwise work), for reference
            grad = jax.jit(jax.grad(lambda p: dynamics.mse_loss(net.apply_fn(p, x), y)))
            rates = jax.tree_util.tree_map(lambda _: 0.1, params)
            no_losses = jnp.zeros(0, jnp.float32)
            runs = {}
            for name, apply_fn in (("ntklib", net.apply_fn), ("stax", net.stax_apply_fn)):
                # plain GD (momentum 0): the loop dynamics.gradient_descent runs for it
                advance = dynamics.step_fn(apply_fn, loss="mse", rule="gd")
                runs[name] = partial(lambda adv, *args: adv(*args)[0], advance, params, (), no_losses,
                                     x, y, rates, 0.0, key, 0, self.STEPS)
            h = jax.random.normal(key, (n, width))
            one_pass = jax.jit(models.activation_fn("relu"))  # the forward ReLU pass itself
            runs["one pass"] = partial(one_pass, h)
            self.configs.append(dict(
                depth=depth, width=width, n=n, runs=runs,
                flops=mlp_step_flops([x.shape[1]] + [width] * depth + [1], n),
                xla_flops=grad.lower(params).compile().cost_analysis()["flops"],
                medians={name: [] for name in runs}))

    def measure(self, rounds: int = 4) -> None:
        """``rounds`` interleaved timing rounds of every configuration, and the matmul rate."""
        self.rates.append(matmul_rate())
        self.rounds.append(rounds)
        for c in self.configs:
            for run in c["runs"].values():
                jax.block_until_ready(run())  # compile and touch the buffers before any timing
            for _ in range(rounds):
                for name, run in c["runs"].items():
                    per = 1 if name == "one pass" else self.STEPS
                    c["medians"][name].append(median_time(run, repeats=3) / per)

    def table(self) -> str:
        rate = max(self.rates)
        rows = []
        for c in self.configs:
            best = {name: min(m) for name, m in c["medians"].items()}
            spread = max(c["medians"]["ntklib"]) / best["ntklib"]
            floor = c["flops"] / (rate * 1e9)
            rows.append((c["depth"], c["width"], c["n"], f"{c['flops'] / 1e9:.2f}",
                         f"{c['xla_flops'] / 1e9:.2f}", f"{best['ntklib'] * 1e3:.2f}",
                         f"{best['stax'] * 1e3:.2f}", f"{floor * 1e3:.2f}",
                         f"{best['one pass'] * 1e3:.2f}", f"{best['ntklib'] / floor:.2f}",
                         f"{best['stax'] / floor:.2f}", f"{spread:.2f}"))
        rates = ", ".join(f"{r:.0f}" for r in self.rates)
        return (f"Matmul rate per measurement: {rates} GFLOP/s (floor: the best); timing rounds "
                f"per measurement: {', '.join(map(str, self.rounds))}.\n\n"
                + table(["depth", "width", "N", "GFLOP/step (matmuls)", "GFLOP/step (XLA)",
                         "ntklib ms/step", "stax ms/step", "floor ms/step", "one N×width pass ms",
                         "ntklib / floor", "stax / floor", "slowest / best round"], rows))


# ----------------------------------------------------------------------------- empirical NTK


def _nt_fn(apply_fn, impl):
    return jax.jit(nt.empirical_ntk_fn(apply_fn, trace_axes=(), vmap_axes=0, implementation=impl))


def ntk_costs(quick: bool):
    """Time and XLA peak memory of the empirical NTK: brute force, ntklib (both paths), NT (two)."""
    rows = []
    sweep = [("width", 1, w, 64) for w in ([256, 1024, 4096] if not quick else [256, 1024])]
    sweep += [("|D|", 1, 1024, n) for n in ([32, 128, 256] if not quick else [32, 128])]
    sweep += [("depth 3", 3, w, n) for w, n in ([(256, 64), (256, 128), (1024, 64)] if not quick else [(256, 64)])]
    for label, depth, width, n in sweep:
        net = models.mlp(depth, width)
        params = net.init(0, 64)
        x = jnp.asarray(data.gaussian_inputs(n, 64))

        def brute(p, x):
            jac = jax.jacrev(lambda q: net.apply_fn(q, x))(p)
            flat = jnp.concatenate([l.reshape(n, -1) for l in jax.tree_util.tree_leaves(jac)], axis=1)
            return flat @ flat.T

        auto = "vector_products" if n <= kernels.VECTOR_PRODUCT_MAX_COLUMNS else "jacobian_contraction"
        generic = {"jacobian_contraction": lambda p, x: kernels._jacobian_block_ntk(net.apply_fn, p, x, x),
                   "vector_products": lambda p, x: kernels._ntk_vector_products(net.apply_fn, p, x, x)}
        fns = {
            "brute-force J Jᵀ": (jax.jit(brute), None),
            "ntklib (MLP)": (jax.jit(lambda p, x: kernels.structured_ntk(net.spec)(net, p, x, x)), None),
            f"ntklib (apply_fn, auto: {auto})": (jax.jit(generic[auto]), lambda: kernels._generic_ntk(
                net.apply_fn, params, x, x, kernels.DEFAULT_JACOBIAN_BYTES, "auto")),
            "NT jacobian-contraction": (_nt_fn(net.apply_fn, nt.NtkImplementation.JACOBIAN_CONTRACTION), None),
            "NT ntk-vector-products": (_nt_fn(net.apply_fn, nt.NtkImplementation.NTK_VECTOR_PRODUCTS), None),
        }
        calls, mems = {}, {}
        for name, (f, public_call) in fns.items():
            if name.startswith("NT"):
                calls[name] = lambda f=f: f(x, None, params)
                mems[name] = peak_bytes(f, x, None, params)
            else:
                calls[name] = public_call or (lambda f=f: f(params, x))  # auto: timed as users call it
                mems[name] = peak_bytes(f, params, x)
        # three interleaved rounds, best kept: the fastest rows take about a millisecond, where
        # one round on this shared machine can be off by 1.5x
        times = {name: [] for name in calls}
        for _ in range(3):
            for name, call in calls.items():
                times[name].append(median_time(call, repeats=5))
        results = {name: (min(times[name]), mems[name]) for name in calls}
        best_nt = min(t for k, (t, _) in results.items() if k.startswith("NT"))
        for name, (t, mem) in results.items():
            rows.append((label, depth, width, n, name, f"{t * 1e3:.1f}", mib(mem), f"{t / best_nt:.2f}"))
    return table(["sweep", "depth", "width", "N", "method", "ms", "peak MiB", "time / best NT"], rows)


def jacobian_budget_check():
    """The generic path never forms more than max_jacobian_bytes of Jacobian at once (both methods)."""
    net = models.mlp(1, 2048)
    params = net.init(0, 64)
    x = data.gaussian_inputs(64, 64)
    n_params = models.parameter_count(params)
    full = 64 * n_params * 4
    budget = full // 8
    ref = kernels.empirical_ntk(net, params, x)
    rows = []
    for impl in ("jacobian_contraction", "vector_products"):
        t0 = time.perf_counter()
        blocked = kernels.empirical_ntk(net.apply_fn, params, x, max_jacobian_bytes=budget, implementation=impl)
        t_blocked = time.perf_counter() - t0
        err = float(np.max(np.abs(blocked - ref)) / np.max(np.abs(ref)))
        if impl == "jacobian_contraction":
            block = max(1, budget // (2 * 4 * n_params))
            xb = jnp.asarray(x[:block])
            mem = peak_bytes(jax.jit(lambda p, a, b: kernels._jacobian_block_ntk(net.apply_fn, p, a, b)), params, xb, xb)
        else:
            block = max(1, budget // (2 * 4 * n_params))
            mem = peak_bytes(jax.jit(lambda p, a, b: kernels._ntk_vector_products(net.apply_fn, p, a, b)),
                             params, jnp.asarray(x[:block]), jnp.asarray(x))
        rows.append((impl, n_params, mib(full), mib(budget), block, mib(mem), f"{err:.1e}", f"{t_blocked:.2f}"))
    return table(["method", "params", "full J (MiB)", "budget (MiB)", "block rows", "peak per block (MiB)",
                  "max rel. diff vs exact", "s"], rows)


# ----------------------------------------------------------------------------- f_lin sweep


def linearization_sweep(quick: bool):
    """Net-vs-f_lin test outputs over a width sweep: closed form (one eigh) vs weight-space GD."""
    ds = data.digits(128, 64, binary=True)
    widths = [256, 512, 1024, 2048] if not quick else [256, 512]
    seeds = [0, 1]
    steps, record = 1000, dynamics.log_steps(1000, 20)

    def sweep(f_lin_test):
        """f_lin_test(net, params, lr) for every width and seed, at half of each width's η_critical."""
        outs = []
        for w in widths:
            net = models.mlp(3, w)
            lr = 0.5 * kernels.eta_critical(kernels.analytic_ntk(net, ds.x_train))
            outs += [f_lin_test(net, net.init(s, 64), lr) for s in seeds]
        return outs

    def closed_form_one(net, p, lr):
        predictor = dynamics.linear_predictor(net, p, ds.x_train, ds.y_train, ds.x_test)
        return predictor.predict(record, lr=lr)[1]

    def weight_space_one(net, p, lr):
        f_lin = nt.linearize(net.apply_fn, p)
        return dynamics.gradient_descent(f_lin, p, ds.x_train, ds.y_train, x_test=ds.x_test, lr=lr,
                                         steps=steps, record=record).f_test

    closed_form = lambda: sweep(closed_form_one)
    weight_space = lambda: sweep(weight_space_one)

    # one pass each, compilation included (each width is a new network for both methods: this is
    # what a sweep costs its user; a warm-up would not help weight-space GD, whose nt.linearize
    # function is new for every seed)
    t0 = time.perf_counter(); a = closed_form(); t_closed = time.perf_counter() - t0
    t0 = time.perf_counter(); b = weight_space(); t_weight = time.perf_counter() - t0
    diff = max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))
    return table(["widths", "seeds", "steps", "closed form (s)", "weight-space GD (s)", "speed-up",
                  "max |Δf_test|"],
                 [(widths, len(seeds), steps, f"{t_closed:.2f}", f"{t_weight:.2f}",
                   f"{t_weight / t_closed:.1f}x", f"{diff:.1e}")])


# ----------------------------------------------------------------------------- the book


def book_times():
    """Cold execution of every notebook (fresh kernel each) and a cached rebuild of the book."""
    rows = []
    env = dict(os.environ, TQDM_DISABLE="1")
    notebooks = sorted((ROOT / "chapters").glob("*.ipynb"))
    tmp = ROOT / "_build" / "bench"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    total = 0.0
    for nb in notebooks:
        copy = ROOT / "chapters" / f".bench_{nb.name}"
        shutil.copy(nb, copy)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(ROOT / "tools" / "nbtool.py"), "execute", str(copy)],
                              env=env, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        copy.unlink()
        total += dt
        rows.append((nb.name, f"{dt:.0f}", "ok" if proc.returncode == 0 else "FAILED", "yes" if dt <= 90 else "NO"))
    rows.append(("**all notebooks**", f"{total:.0f}", "", "yes" if total <= 360 else "NO"))
    jb = str(ROOT / ".venv" / "bin" / "jupyter-book")
    build = ROOT / "_build"

    def build_book(*remove: str) -> float:
        for name in remove:
            shutil.rmtree(build / name, ignore_errors=True)
        t0 = time.perf_counter()
        subprocess.run([jb, "build", str(ROOT), "-W", "-n", "--keep-going"], env=env, cwd=ROOT,
                       capture_output=True, check=True)
        return time.perf_counter() - t0

    # cold: no execution cache, no Sphinx environment (every notebook executes, every page is read)
    cold = build_book(".jupyter_cache", ".doctrees", "jupyter_execute", "html")
    # every page read again, notebooks taken from the execution cache (what a changed text costs)
    reread = build_book(".doctrees", "html")
    # nothing changed: Sphinx's environment and the cache are both current
    warm = build_book()
    rows.append(("book build, cold (no cache)", f"{cold:.0f}", "", ""))
    rows.append(("book build, pages re-read, notebooks from the cache", f"{reread:.0f}",
                 f"{reread / cold:.0%} of cold", "yes" if reread <= 0.1 * cold else "NO"))
    rows.append(("book build, nothing changed", f"{warm:.0f}", f"{warm / cold:.0%} of cold",
                 "yes" if warm <= 0.1 * cold else "NO"))
    return table(["notebook / build", "seconds", "status", "within target"], rows)


def widths_reached():
    """The widest networks the ci-scale settings use (from ntklib.config)."""
    rows = []
    def walk(settings, prefix):
        for k, val in settings.items():
            if isinstance(val, dict):
                yield from walk(val, f"{prefix}{k}.")
            elif "width" in k:
                yield f"{prefix}{k}", max(val) if isinstance(val, (list, tuple)) else val

    for chapter, scales in ntklib.config.all_settings().items():
        for key, top in walk(scales["ci"], ""):
            rows.append((chapter, key, top))
    return table(["chapter", "setting", "max width at ci"], rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--skip-book", action="store_true", help="skip the notebook/book timings")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    gd = GDStepTimings(args.quick)
    gd.measure()  # at the start of the run; again at its end (see GDStepTimings)
    sections = [
        "## Empirical NTK: time and peak memory", NOTES["ntk"], ntk_costs(args.quick),
        "## Generic path under a Jacobian memory budget", NOTES["budget"], jacobian_budget_check(),
        "## Linearized model over a width sweep: closed form vs weight-space GD (compilation included)",
        NOTES["flin"],
        linearization_sweep(args.quick),
        "## Widths at ci scale", widths_reached(),
        "## Memory formulas (paper scale on one device)", NOTES["memory"],
    ]
    if not args.skip_book:
        sections += ["## Notebooks and book build", NOTES["book"], book_times()]
    gd.measure()
    sections = [
        "# ntklib benchmarks",
        "Written by `make bench` (`python benchmarks/run.py`); medians over repeats after a warm-up "
        "call (compilation excluded). Ratios compare methods measured side by side in this one run.",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.python_version()}; jax {jax.__version__}, neural-tangents {nt.__version__}, "
        f"devices {[d.platform for d in jax.devices()]}. Measured f32 matmul rate: "
        f"{max(gd.rates):.0f} GFLOP/s.",
        "## Full-batch GD step vs the FLOP floor", NOTES["gd"], gd.table(),
    ] + sections
    text = "\n\n".join(sections) + "\n"
    (OUT / "latest.md").write_text(text)
    if not args.quick:
        (ROOT / "BENCHMARKS.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
