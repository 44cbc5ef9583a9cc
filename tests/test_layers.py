"""Layers as the unit of the network: the general form equals the shorthand,
geometry is checked when the network is built, layers survive save/load, and
every epoch of fit sees a new example order."""

import numpy as np
import pytest

import fnn_numba as fnn
from fnn_numba import engine, layers


def test_layer_list_builds_the_same_network_as_the_shorthand():
    short = fnn.Network([6, 5, 4, 3], activations=["relu", "tanh", "softmax"], seed=7)
    general = fnn.Network(
        [
            layers.Input(6),
            layers.Dense(5, activation="relu"),
            layers.Dense(4, activation="tanh"),
            layers.Dense(3, activation="softmax"),
        ],
        seed=7,
    )
    assert np.array_equal(short.get_parameters(), general.get_parameters())
    assert general.sizes == [6, 5, 4, 3] and general.activations == ["relu", "tanh", "softmax"]
    assert [type(layer).__name__ for layer in general.layers] == [
        "Input",
        "Dense",
        "Dense",
        "Dense",
    ]
    X = np.random.default_rng(0).standard_normal((6, 9))
    y = np.arange(9) % 3
    assert np.array_equal(short.forward(X), general.forward(X))
    g1, g2 = short.gradients(X, y), general.gradients(X, y)
    assert all(np.array_equal(a, b) for a, b in zip(g1.weights + g1.biases, g2.weights + g2.biases))


def test_one_layer_list_builds_two_independent_networks():
    stack = [layers.Input(4), layers.Dense(3, activation="softmax")]
    a, b = fnn.Network(stack, seed=1), fnn.Network(stack, seed=2)
    assert a.layers[1] is not b.layers[1] and stack[1].index is None
    assert not np.array_equal(a.get_parameters(), b.get_parameters())


def test_layers_declare_shapes_parameters_and_equations():
    net = fnn.Network(
        [
            layers.Input(4),
            layers.Dense(3, activation="relu"),
            layers.Dense(2, activation="sigmoid"),
        ],
        cost="bce",
    )
    dense = net.layers[1]
    assert dense.input_shape == (4,) and dense.output_shape == (3,) and dense.index == 1
    assert dense.parameter_shapes() == [("W", (3, 4)), ("b", (3,))]
    assert dense.forward_equations == ("P1 (1)", "P1 (2)")
    assert "P1 (13)" in dense.backward_equations and "P1 (21)" in dense.backward_equations
    assert [w.shape for w in net.weights] == [(3, 4), (2, 3)]
    # the drivers read the geometry table, not the objects
    assert net._geom[0, layers.KIND] == layers.DENSE and net._geom[1, layers.N_IN] == 3


@pytest.mark.parametrize(
    "stack, match",
    [
        ([layers.Dense(3), layers.Dense(2)], "first layer must be an Input"),
        ([layers.Input(4)], "at least one layer"),
        ([layers.Input(4), "dense"], r"layers\[1\]"),
        ([layers.Input(4), layers.Input(3)], r"layers\[1\]"),
    ],
)
def test_bad_layer_lists_are_refused(stack, match):
    with pytest.raises(ValueError, match=match):
        fnn.Network(stack)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: layers.Dense(0), "Dense: units"),
        (lambda: layers.Dense(3, activation="swish"), "activation"),
        (lambda: layers.Input(0), "Input: shape"),
        (lambda: layers.Input((1, 8)), "Input: shape"),
    ],
)
def test_bad_layer_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_activations_argument_is_refused_with_a_layer_list():
    with pytest.raises(ValueError, match="activations"):
        fnn.Network([layers.Input(4), layers.Dense(3, activation="softmax")], activations=["relu"])


def test_layer_networks_round_trip_through_a_model_file(tmp_path):
    net = fnn.Network(
        [
            layers.Input(5),
            layers.Dense(4, activation="elu"),
            layers.Dense(1, activation="identity"),
        ],
        cost="mse",
        seed=3,
    )
    net.fit(np.ones((5, 8)), np.zeros((1, 8)), epochs=1, batch_size=4, learning_rate=0.01)
    net.save(tmp_path / "m.npz")
    back = fnn.Network.load(tmp_path / "m.npz")
    assert [layer.config() for layer in back.layers] == [layer.config() for layer in net.layers]
    assert np.array_equal(back.get_parameters(), net.get_parameters())
    assert back.optimizer.steps == net.optimizer.steps == 2


def test_every_epoch_sees_a_new_order_drawn_from_the_seed(monkeypatch):
    """The order of each epoch reaches the jitted driver; a slip that reused
    epoch 0's order every epoch fails here."""
    seen = []
    driver = engine.train_batches

    def recording(model, X, Y, order, *args):
        seen.append(order.copy())
        return driver(model, X, Y, order, *args)

    monkeypatch.setattr(engine, "train_batches", recording)
    X = np.random.default_rng(0).standard_normal((3, 40))
    y = np.arange(40) % 2
    runs = []
    for _ in range(2):
        seen.clear()
        fnn.Network([3, 4, 2], seed=11).fit(X, y, epochs=4, batch_size=40, learning_rate=0.1)
        runs.append([o.copy() for o in seen])
    orders = runs[0]
    assert len(orders) == 4
    assert all(sorted(o) == list(range(40)) for o in orders)  # each epoch uses every example once
    assert len({tuple(o) for o in orders}) == 4  # and in a new order
    assert all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1]))  # reproducible from the seed
    seen.clear()
    fnn.Network([3, 4, 2], seed=11).fit(X, y, epochs=2, batch_size=40, shuffle=False)
    assert all(np.array_equal(o, np.arange(40)) for o in seen)


def test_batch_size_larger_than_the_data_warns_and_runs_one_batch():
    X = np.random.default_rng(0).standard_normal((3, 10))
    net = fnn.Network([3, 2], seed=0)
    with pytest.warns(UserWarning, match="batch_size: 32 is larger than the 10 training examples"):
        history = net.fit(X, np.arange(10) % 2, epochs=1, batch_size=32)
    assert len(history) == 1


def test_each_fit_starts_its_schedule_at_epoch_zero():
    X = np.random.default_rng(0).standard_normal((3, 10))
    y = np.arange(10) % 2
    net = fnn.Network([3, 2], seed=0)
    first = net.fit(
        X, y, epochs=3, batch_size=5, learning_rate=0.4, lr_schedule="exponential", gamma=0.5
    )
    second = net.fit(
        X, y, epochs=2, batch_size=5, learning_rate=0.4, lr_schedule="exponential", gamma=0.5
    )
    assert first.learning_rate == [0.4, 0.2, 0.1]
    assert second.learning_rate == [0.4, 0.2]
    assert net.epochs_trained == 5


def _linked_functions(driver, *args):
    """The names of the functions a fresh (uncached) compilation of the
    engine driver ``driver`` links, for these arguments."""
    import numba

    fresh = numba.njit(driver.py_func)
    fresh(*args)
    (cres,) = fresh.overloads.values()
    return {lib.name for lib in cres.library._linking_libraries}


def test_a_dense_network_compiles_no_kernel_of_the_other_layer_kinds():
    """spatial=None prunes the conv, pooling and dropout branches before
    typing (the cold-start saving); a network with such layers gets them."""
    dense = fnn.Network([4, 3, 2], seed=0)
    conv = fnn.Network(
        [
            layers.Input((1, 3, 3)),
            layers.Conv2D(1, 2),
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ],
        seed=0,
    )
    spatial_kernels = {
        "conv_forward",
        "maxpool_forward",
        "avgpool_forward",
        "subsample_forward",
        "dropout_mask",
        "dropout_apply",
        "copy_columns",
    }
    linked = {}
    for name, net in (("dense", dense), ("conv", conv)):
        b = net._backend
        X = np.asfortranarray(np.ones((net.sizes[0], 3)))
        linked[name] = _linked_functions(
            engine.forward_pass_fields, X, b.spatial, *b.model(0.0), *b.buffers(3, "forward")
        )
    assert dense._backend.spatial is None and conv._backend.spatial is True
    assert "z_forward" in linked["dense"] and not linked["dense"] & spatial_kernels
    assert spatial_kernels <= linked["conv"]


def test_the_dense_only_driver_refuses_a_network_with_other_layers():
    conv = fnn.Network(
        [
            layers.Input((1, 3, 3)),
            layers.Conv2D(1, 2),
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ],
        seed=0,
    )
    b = conv._backend
    X = np.asfortranarray(np.ones((9, 3)))
    with pytest.raises(ValueError, match="spatial: None is only for networks of Dense layers"):
        engine.forward_pass(b.model(0.0), X, b.buffers(3, "forward"), None)
