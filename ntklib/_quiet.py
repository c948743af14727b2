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
import types

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


class _DeferredModule(types.ModuleType):
    """Stands in sys.modules for a submodule until one of its attributes is first used.

    On first attribute access the placeholder leaves sys.modules, the real module is imported
    (with start-up noise silenced), replaces the placeholder as its parent's attribute, and the
    attribute is returned from it.
    """

    def __init__(self, name: str):
        super().__init__(name)
        self.__dict__["_deferred_real"] = None

    def __getattr__(self, attr: str):
        real = self.__dict__["_deferred_real"]
        if real is None:
            name = self.__name__
            if sys.modules.get(name) is self:
                del sys.modules[name]
            real = quiet_import(name)
            self.__dict__["_deferred_real"] = real
            parent, _, child = name.rpartition(".")
            if parent in sys.modules:
                setattr(sys.modules[parent], child, real)
        return getattr(real, attr)


# neural-tangents' ``experimental`` package is its TensorFlow interop (empirical_ntk_fn_tf, which
# imports TensorFlow, tf2jax and jax2tf: about 3 s of every notebook's start on two cores). ntklib
# never calls it; ``import neural_tangents`` imports it eagerly, so it is deferred until used.
_NT_DEFERRED = ("neural_tangents.experimental",)


def import_neural_tangents():
    """Import neural_tangents without start-up noise and without TensorFlow.

    ``neural_tangents.experimental`` (the TF interop) is a placeholder that imports the real
    package, and with it TensorFlow, the first time one of its attributes is used.
    """
    import logging

    if "neural_tangents" not in sys.modules:
        for name in _NT_DEFERRED:
            sys.modules.setdefault(name, _DeferredModule(name))
    logging.getLogger("absl").setLevel(logging.ERROR)
    return quiet_import("neural_tangents")
