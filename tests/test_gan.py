"""fnn_numba.GAN: the composition's gradients, the optimal discriminator,
training on a 1-D Gaussian, save/load, bad input and the command line.

The longer runs (5 seeds of the Gaussian, the ring of 8 Gaussians, the
digits) are benchmarks/gan_quality.py."""

import math

import numpy as np
import pytest

import fnn_numba as fnn
from fnn_numba.cli import main as cli
from fnn_numba.gan import (
    GAN,
    format_rows,
    gan_crosscheck,
    gaussian_1d,
    make_setup,
    mode_coverage,
    ring8,
    ring8_modes,
    train_stages,
)


def _pair(seed=0, l2=0.0, g_act="tanh", d_act="elu"):
    G = fnn.Network([3, 5, 2], [g_act, "identity"], cost="mse", seed=seed, l2=l2)
    D = fnn.Network([2, 6, 1], [d_act, "sigmoid"], cost="bce", seed=seed + 1, l2=l2)
    return G, D


# ------------------------------------------------------------ cross-check
@pytest.mark.parametrize("loss", ["non_saturating", "minimax"])
@pytest.mark.parametrize("l2", [0.0, 0.02])
def test_crosscheck_rows_pass(loss, l2):
    gan = GAN(*_pair(l2=l2, g_act="softmax" if l2 else "tanh"), loss=loss, seed=0)
    rows = gan_crosscheck(gan, m=5)
    assert len(rows) == 2 * 2 + 1 + 2 * 2
    assert all(r.passed for r in rows), format_rows(rows)
    assert max(r.max_rel for r in rows) < 1e-5
    assert "all passed" in format_rows(rows)


def test_crosscheck_catches_a_wrong_scale(monkeypatch):
    """A generator seeded with dJ/dG(z) off by a factor (say the 1/m
    forgotten) fails its rows; D's rows still pass."""
    gan = GAN(*_pair(), seed=0)
    real = GAN._generator_output_gradient

    def doubled(self, fake):
        dX, J = real(self, fake)
        return 2 * dX, J

    monkeypatch.setattr(GAN, "_generator_output_gradient", doubled)
    rows = gan_crosscheck(gan, m=4)
    g_rows = [r for r in rows if "J_G" in r.quantity]
    d_rows = [r for r in rows if "J_D" in r.quantity]
    assert g_rows and not any(r.passed for r in g_rows)
    assert d_rows and all(r.passed for r in d_rows)
    assert "FAILED" in format_rows(rows)


def test_minimax_and_non_saturating_gradients_differ_by_the_notes_factor():
    """At the output of D (sigmoid s), dJ_G/ds is -D(G(z))/m for minimax
    (d log(1 - sigma(s))/ds) and -(1 - D(G(z)))/m for non-saturating: the
    composed input gradients are their ratio apart, example by example."""
    G, D = _pair()
    Z = np.random.default_rng(0).standard_normal((3, 6))
    g_mm, _ = GAN(G, D, loss="minimax").generator_gradients(Z)
    g_ns, _ = GAN(G, D, loss="non_saturating").generator_gradients(Z)
    p = D.forward(G.forward(Z))
    np.testing.assert_allclose(g_mm.inputs, g_ns.inputs * p / (1 - p), rtol=1e-10, atol=1e-14)


def test_discriminator_gradient_is_the_notes_ascent_direction():
    """dJ_D/dtheta for J_D = -(1/m) sum [log D(x) + log(1 - D(G(z)))]
    equals D.gradients on real (targets 1) plus on fake (targets 0)."""
    G, D = _pair()
    gan = GAN(G, D, seed=0)
    rng = np.random.default_rng(1)
    X, Z = rng.standard_normal((2, 7)), rng.standard_normal((3, 7))
    fake = G.forward(Z)
    g, J = gan.discriminator_gradients(X, fake=fake)
    real_part = D.gradients(X, np.ones((1, 7)))
    fake_part = D.gradients(fake, np.zeros((1, 7)))
    for l in range(2):
        np.testing.assert_allclose(
            g.weights[l], real_part.weights[l] + fake_part.weights[l], rtol=1e-12, atol=1e-15
        )
        np.testing.assert_allclose(
            g.biases[l], real_part.biases[l] + fake_part.biases[l], rtol=1e-12, atol=1e-15
        )
    assert J == pytest.approx(real_part.cost + fake_part.cost, rel=1e-12)
    assert J == pytest.approx(gan.discriminator_cost(X, fake), rel=1e-10)


# -------------------------------------------------- the optimal discriminator
def _shifted_identity(shift):
    """G(z) = z + shift: with z ~ N(0, 1), p_g = N(shift, 1)."""
    G = fnn.Network([1, 1], ["identity"], cost="mse", seed=0)
    G.weights = [np.ones((1, 1))]
    G.biases = [np.full(1, shift)]
    return G


def _phi(x, mu=0.0):
    return np.exp(-0.5 * (x - mu) ** 2) / math.sqrt(2 * math.pi)


@pytest.mark.parametrize(
    "d_sizes,d_acts", [([1, 1], ["sigmoid"]), ([1, 16, 16, 1], ["tanh", "tanh", "sigmoid"])]
)
def test_discriminator_approaches_the_optimal_one(d_sizes, d_acts):
    """p_data = N(0, 1), p_g = N(1, 1) (a frozen G): D trained alone
    approaches D*(x) = p_data / (p_data + p_g) = sigmoid(1/2 - x), and its
    cost approaches J_D* = log 4 - 2 JSD(p_data || p_g)."""
    G = _shifted_identity(1.0)
    D = fnn.Network(d_sizes, d_acts, cost="bce", seed=1)
    gan = GAN(G, D, seed=0)
    X = np.random.default_rng(0).standard_normal((1, 4000))
    gan.fit(X, epochs=30, batch_size=500, learning_rate=0.01, train_generator=False)
    h = gan.fit(X, epochs=20, batch_size=1000, learning_rate=0.002, train_generator=False)
    assert np.isnan(h.g_cost).all()
    assert G.weights[0][0, 0] == 1.0 and G.biases[0][0] == 1.0  # frozen
    x = np.linspace(-2, 3, 51)[None]
    d_star = _phi(x) / (_phi(x) + _phi(x, 1.0))
    assert np.max(np.abs(D.forward(x) - d_star)) < 0.03
    # J_D at the optimum, by quadrature: log 4 - 2 JSD
    t = np.linspace(-12, 13, 200001)
    pd, pg = _phi(t), _phi(t, 1.0)
    integrand = pd * np.log(2 * pd / (pd + pg)) + pg * np.log(2 * pg / (pd + pg))
    jsd = 0.5 * np.sum(integrand) * (t[1] - t[0])
    rng = np.random.default_rng(5)
    J = gan.discriminator_cost(
        rng.standard_normal((1, 100000)), rng.standard_normal((1, 100000)) + 1.0
    )
    assert J == pytest.approx(math.log(4) - 2 * jsd, abs=0.01)
    # an untrained D is far from it (the test can fail)
    fresh = fnn.Network(d_sizes, d_acts, cost="bce", seed=1)
    assert np.max(np.abs(fresh.forward(x) - d_star)) > 0.1


# -------------------------------------------------------- 1-D Gaussian target
def test_gaussian_target_is_matched():
    """N(4, 1.25^2) with the settings of ``fnn-numba gan --dataset gaussian``
    (benchmarks/gan_quality.py runs 5 seeds): mean within 0.1, standard
    deviation within 15%."""
    gan, X, fits = make_setup("gaussian", seed=0)
    h = train_stages(gan, X, fits)
    x = gan.sample(20000, seed=1)
    assert abs(x.mean() - 4.0) < 0.1, x.mean()
    assert abs(x.std() - 1.25) < 0.15 * 1.25, x.std()
    assert len(h) == 80 and 0.3 < h.d_real[-1] < 0.7 and 0.3 < h.d_fake[-1] < 0.7


# ------------------------------------------------------------------ training
def test_fit_history_and_determinism():
    a, X, _ = make_setup("ring8", seed=3, examples=256, hidden=[8])
    b, _, _ = make_setup("ring8", seed=3, examples=256, hidden=[8])
    ha = a.fit(X, epochs=2, batch_size=64, learning_rate=1e-3)
    hb = b.fit(X, epochs=2, batch_size=64, learning_rate=1e-3)
    assert len(ha) == 2 and len(ha.g_cost) == len(ha.d_real) == len(ha.d_fake) == 2
    assert ha.d_cost == hb.d_cost and ha.g_cost == hb.g_cost
    np.testing.assert_array_equal(a.sample(10, seed=0), b.sample(10, seed=0))
    assert all(0 < v < 1 for v in ha.d_real + ha.d_fake)
    assert a.optimizers[0] is not a.optimizers[1]
    assert a.optimizers[0].steps == a.optimizers[1].steps == 2 * 4


def test_k_discriminator_steps_per_generator_step():
    gan, X, _ = make_setup("ring8", seed=0, examples=240, hidden=[8], k=3)
    gan.fit(X, epochs=1, batch_size=40, learning_rate=1e-3, optimizer="sgd")
    opt_g, opt_d = gan.optimizers
    assert opt_d.steps == 6 and opt_g.steps == 2
    # k larger than the batches of an epoch: the count runs across epochs
    gan.k = 4
    h = gan.fit(X, epochs=2, batch_size=80, learning_rate=1e-3, optimizer="sgd")
    assert gan.optimizers[1].steps == 6 and gan.optimizers[0].steps == 1
    assert np.isnan(h.g_cost[0]) and np.isfinite(h.g_cost[1])


def test_per_network_learning_rates_and_optimizers():
    gan, X, _ = make_setup("ring8", seed=0, examples=64, hidden=[4])
    g0 = gan.generator.get_parameters()
    d0 = gan.discriminator.get_parameters()
    gan.fit(
        X,
        epochs=1,
        batch_size=64,
        learning_rate=0.1,
        generator_learning_rate=1e-12,
        generator_optimizer="sgd",
        discriminator_optimizer="momentum",
    )
    assert gan.optimizers[0].name == "sgd" and gan.optimizers[1].name == "momentum"
    np.testing.assert_allclose(gan.generator.get_parameters(), g0, atol=1e-9)
    assert not np.allclose(gan.discriminator.get_parameters(), d0)


def test_noise_options():
    G, D = _pair()
    z = GAN(G, D, noise="uniform", seed=0).draw_noise(1000)
    assert z.shape == (3, 1000) and z.min() >= -1 and z.max() <= 1
    z = GAN(G, D, seed=0).draw_noise(5000)
    assert abs(z.std() - 1) < 0.05 and abs(z.mean()) < 0.05
    custom = GAN(G, D, noise=lambda rng, m: np.full((3, m), 2.0))
    np.testing.assert_array_equal(custom.draw_noise(4), np.full((3, 4), 2.0))
    bad = GAN(G, D, noise=lambda rng, m: np.zeros((2, m)))
    with pytest.raises(ValueError, match="noise"):
        bad.draw_noise(4)


def test_save_load_round_trip(tmp_path):
    gan, X, _ = make_setup("ring8", seed=1, examples=128, hidden=[8], loss="minimax", k=2)
    gan.fit(X, epochs=2, batch_size=32, learning_rate=1e-3)
    gan.save(tmp_path / "g")
    back = GAN.load(tmp_path / "g")
    assert back.k == 2 and back.loss == "minimax" and back.history.d_cost == gan.history.d_cost
    np.testing.assert_array_equal(back.sample(20, seed=4), gan.sample(20, seed=4))
    np.testing.assert_array_equal(back.draw_noise(5), gan.draw_noise(5))
    assert back.optimizers[1].steps == gan.optimizers[1].steps
    with pytest.raises(ValueError, match="gan.json"):
        GAN.load(tmp_path)
    custom = GAN(*_pair(), noise=lambda rng, m: rng.standard_normal((3, m)))
    custom.save(tmp_path / "c")
    with pytest.raises(ValueError, match="noise"):
        GAN.load(tmp_path / "c")
    assert GAN.load(tmp_path / "c", noise=lambda rng, m: np.zeros((3, m))).draw_noise(2).sum() == 0


def test_bad_input():
    G, D = _pair()
    with pytest.raises(TypeError, match="generator"):
        GAN("G", D)
    with pytest.raises(ValueError, match="discriminator"):
        GAN(G, fnn.Network([2, 2], ["softmax"], cost="cce"))
    with pytest.raises(ValueError, match="discriminator"):
        GAN(G, fnn.Network([3, 1], ["sigmoid"], cost="bce"))
    with pytest.raises(TypeError, match="dtype"):
        GAN(G, fnn.Network([2, 1], ["sigmoid"], cost="bce", dtype=np.float32))
    with pytest.raises(ValueError, match="loss"):
        GAN(G, D, loss="wasserstein")
    with pytest.raises(ValueError, match="k"):
        GAN(G, D, k=0)
    with pytest.raises(ValueError, match="noise"):
        GAN(G, D, noise="cauchy")
    gan = GAN(G, D)
    with pytest.raises(ValueError, match="X_real"):
        gan.fit(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="learning_rate"):
        gan.fit(np.zeros((2, 10)), learning_rate=0)
    with pytest.raises(ValueError, match="generator_optimizer"):
        gan.fit(np.zeros((2, 10)), generator_optimizer="rmsprop")
    with pytest.raises(ValueError, match="dataset"):
        make_setup("mnist")


def test_ring8_helpers():
    X = ring8(4000, seed=0)
    covered, good, counts = mode_coverage(X)
    assert covered == 8 and good > 0.98 and counts.sum() > 3900
    collapsed = np.repeat(ring8_modes()[:, :1], 100, axis=1)
    assert mode_coverage(collapsed)[0] == 1
    assert gaussian_1d(10).shape == (1, 10)


# ------------------------------------------------------------------ CLI
def test_cli_gan_writes_the_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "ring.png"
    rc = cli(
        [
            "gan",
            "--dataset",
            "ring8",
            "--epochs",
            "1",
            "--examples",
            "256",
            "--output",
            str(out),
            "--save",
            str(tmp_path / "m"),
        ]
    )
    assert rc == 0
    assert out.stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "modes covered" in printed and "wrote" in printed
    assert GAN.load(tmp_path / "m").generator.sizes == [4, 64, 64, 2]


def test_cli_gan_bad_arguments(capsys):
    assert cli(["gan", "--dataset", "mnist"]) == 2
    assert cli(["gan", "--dataset", "ring8", "--epochs", "0"]) == 2
    assert "--epochs" in capsys.readouterr().err


def test_digits_generator_and_image_grid(tmp_path):
    """The digits set-up, briefly (benchmarks/gan_quality.py digits trains it
    for 200 epochs and labels the samples with a separate classifier): the
    generator makes 8x8 images in (0, 1), and the grid PNG is written."""
    pytest.importorskip("matplotlib")
    from fnn_numba.gan import image_grid, plot_samples

    gan, X, fits = make_setup("digits", seed=0, examples=128, stages=[(2, 5e-4)])
    assert X.shape == (64, 128) and X.min() >= 0 and X.max() <= 1
    train_stages(gan, X, fits)
    fake = gan.sample(30, seed=0)
    assert fake.shape == (64, 30) and fake.min() > 0 and fake.max() < 1
    grid = image_grid(fake, 5, 6)
    assert grid.shape == (5 * 9 - 1, 6 * 9 - 1)
    np.testing.assert_array_equal(grid[9:17, 18:26], fake[:, 8].reshape(8, 8))
    assert np.all(grid[8, :] == 0)
    out = plot_samples(gan, "digits", X, tmp_path / "digits.png")
    assert (tmp_path / "digits.png").stat().st_size > 1000 and out == tmp_path / "digits.png"


def test_lazy_export():
    assert fnn.GAN is GAN
