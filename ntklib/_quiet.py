"""Silence TensorFlow/XLA start-up chatter before anything imports them.

neural-tangents imports TensorFlow (through tf2jax); TensorFlow's C++ runtime writes log lines
straight to file descriptor 2, which Jupyter forwards into notebook outputs. The environment
variables below are read when the libraries load, so this module must run before ``import jax``;
``quiet_import`` additionally points fd 2 at /dev/null while a noisy module is being imported.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys

__all__ = [
    "quiet_import", "import_neural_tangents",
]

_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow C++ logs: errors only
    "TF_ENABLE_ONEDNN_OPTS": "0",  # no "oneDNN custom operations are on" banner
    "GRPC_VERBOSITY": "ERROR",
    "GLOG_minloglevel": "3",
    "ABSL_MIN_LOG_LEVEL": "3",
}
for _key, _value in _ENV.items():
    os.environ.setdefault(_key, _value)
# TensorFlow is only needed for neural-tangents' optional TF interop; keep it off any GPU.
os.environ.setdefault("CUDA_VISIBLE_DEVICES_FOR_TF", "")


@contextlib.contextmanager
def _stderr_to_devnull():
    """Point the process-level stderr (fd 2) at /dev/null for the duration of the block."""
    try:
        fd = sys.__stderr__.fileno() if sys.__stderr__ is not None else 2
    except (AttributeError, OSError, ValueError):
        fd = 2
    try:
        saved = os.dup(fd)
    except OSError:  # no usable fd 2 (some embedded interpreters): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def quiet_import(name: str):
    """Import module ``name`` with C++ logging silenced; return the module."""
    if name in sys.modules:
        return sys.modules[name]
    with _stderr_to_devnull():
        module = importlib.import_module(name)
    return module


def import_neural_tangents():
    """Import neural_tangents (and with it TensorFlow) without start-up noise."""
    quiet_import("tensorflow")
    import logging

    logging.getLogger("absl").setLevel(logging.ERROR)
    return quiet_import("neural_tangents")
