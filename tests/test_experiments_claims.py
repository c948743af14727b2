"""Width sweeps, the scale switch and the claims mechanism (power-law fits: test_stats.py)."""

import numpy as np
import pytest

from ntklib import claims, config, experiments


def test_width_sweep_is_tidy_and_pivots():
    frame = experiments.width_sweep(lambda w, s: {"value": w * 10 + s}, [2, 4, 8], [0, 1])
    assert list(frame.columns) == ["width", "seed", "value"] and len(frame) == 6
    widths, table = experiments.pivot_seeds(frame, "value")
    assert list(widths) == [2, 4, 8] and table.shape == (2, 3)
    assert table[1, 2] == 81


def test_claims_round_record_and_report(capsys):
    claims.reset()
    assert claims.state("a_slope", -0.5123, digits=2, expect=-0.5, tol=0.1) == -0.51
    assert claims.state("tiny", 0.000123456, sig=2) == 0.00012
    claims.state("bounded", 3.0, digits=1, between=(0, 2))
    assert [c.name for c in claims.recorded()] == ["a_slope", "tiny", "bounded"]
    assert claims.recorded()[0].passes and not claims.recorded()[2].passes
    with pytest.raises(AssertionError, match="bounded"):
        claims.report()
    out = capsys.readouterr().out
    assert "a_slope = -0.51" in out  # the glue shim prints outside Jupyter Book
    assert "FAILED" in out and "1 of 2 checked claims hold" in out
    claims.reset()


def test_bounds_glue_the_bound_and_check_the_value(capsys):
    """Round-off-level numbers are stated as bounds: the reader (and the stored output) sees the
    bound, never the CPU-dependent digits; the check still fails when the value is not below it."""
    claims.reset()
    assert claims.below("gap", 2.3e-07, 1e-5) == 1e-5
    assert claims.above("floor", 3e-08, 1e-11) == 1e-11
    claims.below("too_big", 2e-5, 1e-5)
    claims.below("not_finite", float("nan"), 1e-5)
    claims.above("too_small", 1e-12, 1e-11)
    passes = {c.name: c.passes for c in claims.recorded()}
    assert passes == {"gap": True, "floor": True, "too_big": False, "not_finite": False, "too_small": False}
    assert all(c.checked and c.value in (1e-5, 1e-11) for c in claims.recorded())
    with pytest.raises(AssertionError, match="too_big.*not_finite.*too_small"):
        claims.report()
    out = capsys.readouterr().out
    assert "gap = 1e-05" in out and "2.3e-07" not in out and "< 1e-05" in out and "> 1e-11" in out
    assert "2 of 5 checked claims hold" in out
    for bad in (0.0, -1e-5, float("inf")):
        with pytest.raises(ValueError, match="bound"):
            claims.below("x", 1e-7, bad)
    with pytest.raises(TypeError, match="real number"):
        claims.below("x", "small", 1e-5)
    claims.reset()


def test_stored_bound_claims_round_trip():
    """tests/test_claims.py rebuilds claims from the stored metadata: bounds keep their verdict."""
    from dataclasses import asdict

    claims.reset()
    claims.below("gap", 2e-5, 1e-5)
    stored = asdict(claims.recorded()[0])
    assert not claims.Claim(**stored).passes and claims.Claim(**stored).describe() == "measured value below it"
    claims.reset()


def test_round_value_negative_zero_and_sig():
    assert str(claims.round_value(-0.0001, digits=2)) == "0.0"
    assert claims.round_value(123456, sig=2) == 120000
    assert claims.round_value(np.float32(0.25), digits=1) in (0.2, 0.3)


def test_scale_switch(monkeypatch):
    monkeypatch.setenv("NTKLIB_SCALE", "paper")
    paper = config.settings("introduction")
    monkeypatch.setenv("NTKLIB_SCALE", "ci")
    ci = config.settings("introduction")
    assert paper.scale == "paper" and ci.scale == "ci"
    assert paper.width > ci.width
    def same_keys(a, b, where):
        assert set(a) == set(b), where
        for key, value in a.items():
            if isinstance(value, dict):
                same_keys(value, b[key], f"{where}.{key}")

    for chapter, scales in config.all_settings().items():
        assert set(scales) == {"ci", "paper"}, chapter
        same_keys(scales["ci"], scales["paper"], chapter)
    assert config.settings("beyond_optimizers").momentum.width > 0  # nested, read-only


def test_claims_examples():
    import doctest

    claims.reset()
    result = doctest.testmod(claims)
    claims.reset()
    assert result.attempted >= 3 and result.failed == 0


def test_config_schema_is_typed_and_shared_by_both_scales(monkeypatch):
    # every chapter's settings have one typed shape at both scales; a mismatch is an error
    for chapter in config.all_settings():
        shape = config.schema(chapter)
        assert set(shape) == set(config.all_settings()[chapter]["ci"])
    bad = {"ci": dict(width=64, data="digits", sweep=dict(seeds=(0, 1))),
           "paper": dict(width=64, data="mnist", sweep=dict(seeds=(0, 1)))}
    monkeypatch.setitem(config._SETTINGS, "toy", bad)
    assert config.schema("toy") == {"width": "number", "data": "str",
                                    "sweep": "{seeds: tuple[number]}"}
    for change, message in ((dict(width="64"), "number vs str"),
                            (dict(sweep=dict(seeds=(0, 1), extra=1)), "one scale only")):
        monkeypatch.setitem(config._SETTINGS, "toy", {"ci": bad["ci"], "paper": {**bad["paper"], **change}})
        with pytest.raises(TypeError, match=message):
            config.schema("toy")
