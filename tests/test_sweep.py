"""The one sweep helper."""

import pytest

from ntklib import experiments


def test_sweep_is_a_product_first_axis_outermost_with_row_lists():
    calls = []

    def run(width, seed):
        calls.append((width, seed))
        return [{"step": 0, "value": width * 10 + seed}, {"step": 1, "value": -1}]

    frame = experiments.sweep(run, {"width": [2, 4], "seed": [0, 1, 2]})
    assert calls == [(w, s) for w in (2, 4) for s in (0, 1, 2)]
    assert list(frame.columns) == ["width", "seed", "step", "value"] and len(frame) == 12
    assert frame.query("width == 4 and seed == 2 and step == 0").value.item() == 42


def test_sweep_rejects_empty_axes():
    with pytest.raises(ValueError, match="axis 'seed' has no values"):
        experiments.sweep(lambda width, seed: {}, {"width": [1], "seed": []})
    with pytest.raises(ValueError, match="at least one axis"):
        experiments.sweep(lambda: {}, {})
