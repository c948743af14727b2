import os

os.environ.setdefault("TQDM_DISABLE", "1")

import ntklib  # noqa: E402,F401  (quiet TensorFlow before anything else imports it)
import pytest  # noqa: E402


@pytest.fixture
def x64():
    """Run a test in float64 (closed forms vs independent implementations)."""
    import jax

    with jax.experimental.enable_x64():
        yield
