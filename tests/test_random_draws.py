"""ntklib._seeds.normal draws jax.random.normal's numbers bit for bit with one compiled generator per
power-of-two size; Model.init draws through it and gives stax's own init_fn parameters exactly."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntklib import _seeds, models

SHAPES = [(), (1,), (7,), (3, 5), (64, 8), (784, 128), (1, 1000), (13, 17, 5), (1025,), (2048,)]


@pytest.mark.parametrize("shape", SHAPES)
def test_normal_is_jax_normal_bit_for_bit(shape):
    for seed in (0, 3):
        key = jax.random.PRNGKey(seed)
        ours, theirs = _seeds.normal(key, shape), jax.random.normal(key, shape)
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        assert np.array_equal(np.asarray(ours), np.asarray(theirs))


def test_normal_keeps_dtype_also_in_float64():
    key = jax.random.PRNGKey(1)
    half = _seeds.normal(key, (4, 6), jnp.bfloat16)
    assert half.dtype == jnp.bfloat16
    assert np.array_equal(np.asarray(half, np.float32),
                          np.asarray(jax.random.normal(key, (4, 6), jnp.bfloat16), np.float32))
    with jax.experimental.enable_x64():
        ours, theirs = _seeds.normal(key, (300,)), jax.random.normal(key, (300,))
        assert ours.dtype == theirs.dtype == jnp.float64
        assert np.array_equal(np.asarray(ours), np.asarray(theirs))


def test_shapes_of_one_bucket_share_one_generator():
    """The point of it: shapes of one power-of-two size compile JAX's generator once (JAX's own
    jitted ``_normal`` gains one cache entry for all of them; drawn directly, one per shape)."""
    from jax._src import random as jax_random

    key = jax.random.PRNGKey(2)
    shapes = [(29, 31), (17, 53), (1001,), (3, 311), (11, 83)]  # sizes no other test draws
    assert {_seeds._bucket(int(np.prod(s))) for s in shapes} == {1024}
    _seeds.normal(key, (7, 9))  # bucket 1024 compiled
    before = jax_random._normal._cache_size()
    for shape in shapes:
        _seeds.normal(key, shape)
    assert jax_random._normal._cache_size() == before
    for shape in shapes:
        jax.random.normal(key, shape)
    assert jax_random._normal._cache_size() == before + len(shapes)


def test_bucket_is_the_next_power_of_two():
    assert [_seeds._bucket(s) for s in (0, 1, 1024, 1025, 4096, 5000)] == [1024, 1024, 1024, 2048,
                                                                         4096, 8192]


def test_traced_keys_go_to_jax_itself():
    f = jax.jit(lambda key: _seeds.normal(key, (5, 3)))
    key = jax.random.PRNGKey(4)
    assert np.array_equal(np.asarray(f(key)), np.asarray(jax.random.normal(key, (5, 3))))
    batched = jax.vmap(lambda k: _seeds.normal(k, (4,)))(jax.random.split(key, 3))
    assert np.array_equal(np.asarray(batched),
                          np.asarray(jax.vmap(lambda k: jax.random.normal(k, (4,)))(jax.random.split(key, 3))))


def test_the_patch_is_scoped_and_restored_on_error():
    original = jax.random.normal
    with _seeds.shape_agnostic_normal():
        assert jax.random.normal is _seeds.normal
        with _seeds.shape_agnostic_normal():  # nested: still in place, restored only by the outer
            assert jax.random.normal is _seeds.normal
        assert jax.random.normal is _seeds.normal
    assert jax.random.normal is original
    with pytest.raises(RuntimeError, match="inside"):
        with _seeds.shape_agnostic_normal():
            raise RuntimeError("inside")
    assert jax.random.normal is original


MODELS = [models.mlp(3, 100), models.mlp(1, 2048), models.mlp(2, 64, parameterization="standard", out_dim=3),
          models.mlp(2, 33, activation="erf", sigma_b2=0.0), models.conv_net(8, parameterization="standard"),
          models.resnet(4)]


@pytest.mark.parametrize("net", MODELS, ids=repr)
def test_model_init_is_stax_init_bit_for_bit(net):
    input_dim = net.input_dim or 37
    for seed in (0, 5):
        ours = net.init(seed, input_dim)
        width = getattr(net.spec, "width", getattr(net.spec, "channels", None))
        key = jax.random.fold_in(_seeds.key("seed", seed), width)
        _, theirs = net.init_fn(key, (-1, input_dim))  # stax's init, drawing with jax.random.normal
        a, b = jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)
        assert len(a) == len(b)
        assert all(x.shape == y.shape and np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))
