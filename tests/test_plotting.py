"""What users see while and after training: the plots of
:mod:`fnn_numba.plotting`, rendered to real PNG files with the Agg backend
and read back pixel by pixel, and the progress bar of
:mod:`fnn_numba.progress`, written by real tqdm."""

import io
import struct
import sys

import numpy as np
import pytest

import fnn_numba as fnn
from fnn_numba.progress import EpochProgress

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from fnn_numba import plotting  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(path):
    """(width, height from the IHDR chunk, RGB pixels in [0, 1])."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, "not a PNG file"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    pixels = mpimg.imread(path)[..., :3]
    assert pixels.shape[:2] == (height, width)
    return width, height, pixels


def pixels_near(pixels, rgb, tol=4 / 255):
    """How many pixels are within ``tol`` of colour ``rgb`` in every channel."""
    return int(np.sum(np.all(np.abs(pixels - np.asarray(rgb)[:3]) <= tol, axis=-1)))


def blended(rgb, alpha):
    """``rgb`` drawn with opacity ``alpha`` over a white axes background."""
    return alpha * np.asarray(rgb[:3]) + (1 - alpha)


def two_blobs(seed=0, m=80):
    """Two separable clouds in the plane, rows are examples."""
    rng = np.random.default_rng(seed)
    labels = np.arange(m) % 2
    X = np.where(labels[:, None] == 1, 2.0, -2.0) + 0.7 * rng.standard_normal((m, 2))
    return X, labels


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def trained():
    """A softmax network fitted with validation data and its History."""
    X, y = two_blobs()
    net = fnn.Network([2, 8, 2], ["tanh", "softmax"], "categorical_cross_entropy", seed=0)
    history = net.fit(
        X.T[:, :60],
        y[:60],
        epochs=15,
        batch_size=16,
        learning_rate=0.2,
        validation_data=(X.T[:, 60:], y[60:]),
        progress=False,
    )
    return net, history, X, y


# ------------------------------------------------------------------ loss curve
def test_loss_curve_png(tmp_path, trained):
    _, history, _, _ = trained
    path = tmp_path / "loss.png"
    ax = plotting.plot_loss_curve(history, path=path, figsize=(6, 4), dpi=100)
    width, height, pixels = read_png(path)
    assert (width, height) == (600, 400)
    assert pixels.var() > 1e-3, "blank image"
    C0, C1 = matplotlib.colors.to_rgb("C0"), matplotlib.colors.to_rgb("C1")
    assert pixels_near(pixels, C0) > 100, "no training-cost line"
    assert pixels_near(pixels, C1) > 100, "no validation-cost line"
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["training cost"].get_ydata(), history.cost)
    np.testing.assert_array_equal(lines["validation cost"].get_xdata(), np.arange(1, 16))
    assert f"best epoch ({history.best_epoch})" in lines
    # a figure made and saved here is closed so loops do not pile them up
    assert not plt.fignum_exists(ax.figure.number)


def test_loss_curve_into_given_axes_log_scale(trained):
    _, history, _, _ = trained
    fig, ax = plt.subplots()
    out = plotting.plot_loss_curve(history, ax=ax, log_scale=True, title="J")
    assert out is ax and ax.get_yscale() == "log" and ax.get_title() == "J"
    assert plt.fignum_exists(fig.number)


def test_loss_curve_of_an_estimator(tmp_path):
    pytest.importorskip("sklearn")
    from fnn_numba import FNNClassifier

    X, y = two_blobs()
    clf = FNNClassifier(
        (4,),
        learning_rate_init=0.05,
        max_iter=12,
        early_stopping=True,
        n_iter_no_change=50,
        random_state=0,
    )
    with pytest.warns(Warning):  # ConvergenceWarning: 12 epochs are not enough
        clf.fit(X, y)
    ax = plotting.plot_loss_curve(clf, path=tmp_path / "est.png")
    ys = [line.get_ydata().tolist() for line in ax.get_lines()[:2]]
    assert ys == [clf.loss_curve_, clf.validation_loss_curve_]
    assert read_png(tmp_path / "est.png")[2].var() > 1e-3
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), clone_with(clf, early_stopping=False))
    with pytest.warns(Warning):
        pipe.fit(X, y)
    ax = plotting.plot_loss_curve(pipe)
    assert ax.get_lines()[0].get_ydata().tolist() == pipe[-1].loss_curve_


def clone_with(estimator, **params):
    from sklearn.base import clone

    return clone(estimator).set_params(**params)


def test_loss_curve_bad_input():
    with pytest.raises(ValueError, match="history_or_estimator: has no epochs"):
        plotting.plot_loss_curve(fnn.History())
    with pytest.raises(TypeError, match="history_or_estimator: expected"):
        plotting.plot_loss_curve([0.5, 0.4])
    with pytest.raises(ValueError, match="log_scale"):
        plotting.plot_loss_curve({"cost": [1.0, 0.0]}, log_scale=True)
    with pytest.raises(ValueError, match="NaN"):
        plotting.plot_loss_curve({"cost": [1.0, float("nan")]})
    with pytest.raises(TypeError, match="ax: expected a matplotlib Axes"):
        plotting.plot_loss_curve({"cost": [1.0]}, ax="left")
    sklearn = pytest.importorskip("sklearn")  # noqa: F841
    from fnn_numba import FNNRegressor

    with pytest.raises(ValueError, match="not fitted"):
        plotting.plot_loss_curve(FNNRegressor())


# ------------------------------------------------------------ decision boundary
def test_decision_boundary_of_a_network_png(tmp_path, trained):
    """Columns are examples for a Network; both class regions and both
    classes' points appear in their colours."""
    net, _, X, y = trained
    assert net.accuracy(X.T, y) > 0.95
    path = tmp_path / "boundary.png"
    plotting.plot_decision_boundary(
        net, X.T, y, path=path, resolution=120, alpha=0.35, figsize=(5, 5), dpi=80
    )
    width, height, pixels = read_png(path)
    assert (width, height) == (400, 400)
    assert pixels.var() > 1e-3
    tab10 = matplotlib.colormaps["tab10"]
    for k in (0, 1):
        region = pixels_near(pixels, blended(tab10(k), 0.35))
        assert region > 0.05 * width * height, f"class {k} region missing ({region} px)"
        assert pixels_near(pixels, tab10(k)) > 50, f"class {k} points missing"
    assert pixels_near(pixels, tab10(2)) == 0


def test_decision_boundary_regions_follow_the_model(trained):
    """The region drawn under each point is the class the network predicts."""
    net, _, X, y = trained
    ax = plotting.plot_decision_boundary(net, X.T, y, resolution=50)
    mesh = ax.collections[0]
    regions = np.asarray(mesh.get_array()).reshape(50, 50)
    assert set(np.unique(regions)) == {0, 1}
    xs = np.linspace(*ax.get_xlim(), 50)
    ys = np.linspace(*ax.get_ylim(), 50)
    grid = np.array(np.meshgrid(xs, ys)).reshape(2, -1)
    np.testing.assert_array_equal(regions.ravel(), net.predict(grid))


def test_decision_boundary_single_sigmoid_output(tmp_path):
    X, y = two_blobs(seed=1)
    net = fnn.Network([2, 6, 1], ["tanh", "sigmoid"], "binary_cross_entropy", seed=1)
    net.fit(X.T, y.reshape(1, -1), epochs=20, batch_size=16, learning_rate=0.3, progress=False)
    ax = plotting.plot_decision_boundary(
        net, X.T, y.reshape(1, -1), path=tmp_path / "b.png", resolution=60
    )
    regions = np.asarray(ax.collections[0].get_array())
    assert set(np.unique(regions)) == {0, 1}
    assert read_png(tmp_path / "b.png")[2].var() > 1e-3


def test_decision_boundary_of_an_estimator_with_string_classes(tmp_path):
    pytest.importorskip("sklearn")
    from fnn_numba import FNNClassifier

    rng = np.random.default_rng(2)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    labels = np.arange(150) % 3
    X = centres[labels] + 0.6 * rng.standard_normal((150, 2))
    y = np.array(["red", "green", "blue"], dtype=object)[labels]
    clf = FNNClassifier((8,), learning_rate_init=0.05, max_iter=60, random_state=0).fit(X, y)
    path = tmp_path / "three.png"
    ax = plotting.plot_decision_boundary(clf, X, y, path=path, resolution=100)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(clf.classes_)
    _, _, pixels = read_png(path)
    tab10 = matplotlib.colormaps["tab10"]
    for k in range(3):
        assert pixels_near(pixels, blended(tab10(k), 0.35)) > 2000, f"class {clf.classes_[k]}"


def test_decision_boundary_bad_input(trained):
    net, _, X, y = trained
    with pytest.raises(ValueError, match=r"X: .*\(2, m\)"):
        plotting.plot_decision_boundary(net, X, y)  # rows-are-examples given to a Network
    with pytest.raises(ValueError, match="resolution"):
        plotting.plot_decision_boundary(net, X.T, y, resolution=1)
    with pytest.raises(ValueError, match="y: expected"):
        plotting.plot_decision_boundary(net, X.T, y[:5])
    with pytest.raises(ValueError, match="y: expected integer class labels"):
        plotting.plot_decision_boundary(net, X.T, y + 5)
    with pytest.raises(ValueError, match="model: .*2 inputs"):
        plotting.plot_decision_boundary(
            fnn.Network([3, 2], ["softmax"]), np.zeros((3, 4)), [0, 1, 0, 1]
        )
    with pytest.raises(TypeError, match="model: expected"):
        plotting.plot_decision_boundary(object(), X, y)
    with pytest.raises(ValueError, match="alpha"):
        plotting.plot_decision_boundary(net, X.T, y, alpha=2)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    # None in sys.modules makes ``import matplotlib`` raise ImportError, as
    # on a machine without it
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"fnn-numba\[plots\]"):
        plotting.plot_loss_curve({"cost": [1.0, 0.5]})


# ------------------------------------------------------------------ progress bar
class History:
    def __init__(self, cost, val_cost=(), val_accuracy=()):
        self.cost, self.val_cost, self.val_accuracy = list(cost), list(val_cost), list(val_accuracy)


def test_progress_bar_writes_epoch_counts_and_figures():
    pytest.importorskip("tqdm")
    out = io.StringIO()
    bar = EpochProgress(4, enabled=True, file=out, mininterval=0, ncols=120)
    assert bar.enabled
    for epoch in range(1, 5):
        bar.update(
            epoch, History([1.0 / epoch] * epoch, [2.0 / epoch] * epoch, [0.25 * epoch] * epoch)
        )
    bar.close()
    bar.close()  # idempotent
    text = out.getvalue()
    for epoch in range(1, 5):
        assert f"{epoch}/4" in text
    assert "cost=0.25" in text and "val_cost=0.5" in text and "val_acc=1.0000" in text


def test_progress_bar_follows_early_stopping():
    pytest.importorskip("tqdm")
    out = io.StringIO()
    with EpochProgress(10, enabled=True, file=out, mininterval=0) as bar:
        bar.update(3, History([0.5] * 3))
    text = out.getvalue()
    assert "3/10" in text and "10/10" not in text
    assert "val_cost" not in text


def test_progress_bar_skips_nan_accuracy_of_regression():
    pytest.importorskip("tqdm")
    out = io.StringIO()
    with EpochProgress(1, enabled=True, file=out, mininterval=0) as bar:
        bar.update(1, History([0.5], [0.7], [float("nan")]))
    assert "val_cost=0.7" in out.getvalue() and "nan" not in out.getvalue()


def test_progress_bar_auto_shows_only_on_a_terminal(monkeypatch):
    pytest.importorskip("tqdm")

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not EpochProgress(3).enabled
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    bar = EpochProgress(3)
    assert bar.enabled
    bar.update(1, History([0.5]))
    bar.close()
    assert "1/3" in terminal.getvalue()
    off = EpochProgress(3, enabled=False)
    off.update(1, History([0.5]))
    off.close()
    assert not off.enabled


def test_progress_bar_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    with pytest.raises(ImportError, match=r"fnn-numba\[progress\]"):
        EpochProgress(3, enabled=True)
    assert not EpochProgress(3, enabled=None).enabled


def test_progress_bar_bad_arguments():
    with pytest.raises(ValueError, match="total_epochs"):
        EpochProgress(0, enabled=False)
    for bad in ("yes", 1):
        with pytest.raises(TypeError, match=r"progress \(enabled\): expected True, False or None"):
            EpochProgress(3, enabled=bad)
    assert EpochProgress(3, enabled=np.False_).enabled is False


def test_fit_shows_the_bar_when_asked(capsys):
    """Network.fit(progress=True) draws through EpochProgress onto stderr;
    progress=None under pytest's capture (not a terminal) draws nothing."""
    pytest.importorskip("tqdm")
    X, y = two_blobs()
    net = fnn.Network([2, 4, 2], ["tanh", "softmax"], seed=0)
    net.fit(X.T, y, epochs=3, batch_size=40, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "cost=" in err
    net.fit(X.T, y, epochs=3, batch_size=40, progress=None)
    assert "3/3" not in capsys.readouterr().err
