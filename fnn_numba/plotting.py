"""Plots of training and of what a network learned (matplotlib, optional).

``pip install "fnn-numba[plots]"`` installs matplotlib; it is imported only
when a plot is drawn, so importing this module never needs it.

- :func:`plot_loss_curve`: cost per epoch of a :class:`fnn_numba.History`
  or of a fitted :class:`fnn_numba.FNNClassifier` / ``FNNRegressor``.
- :func:`plot_decision_boundary`: the classes a model assigns over a plane of
  2-D inputs, with the data on top; works with a :class:`fnn_numba.Network`
  (X of shape (2, m), columns are examples) and with scikit-learn
  classifiers (X of shape (m, 2)).

- :func:`plot_filters`, :func:`plot_feature_maps`: a Conv2D layer's learned
  kernels, and the maps a layer computes for one input (one figure of
  several images each; they return the Figure).

The first two draw into ``ax`` when given (else into a new figure), save to ``path``
when given, and return the Axes.
"""

import numbers
import os

import numpy as np

__all__ = ["plot_loss_curve", "plot_decision_boundary", "plot_filters", "plot_feature_maps"]


def _matplotlib():
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            "fnn_numba.plotting needs matplotlib, which is not installed: "
            'pip install "fnn-numba[plots]" (or pip install matplotlib)'
        ) from exc
    return matplotlib


def _axes(ax, figsize):
    """(ax, created): the given Axes, or one on a new pyplot figure (pyplot,
    so that notebooks display it and plt.show() works)."""
    _matplotlib()
    if ax is not None:
        if not hasattr(ax, "figure") or not hasattr(ax, "plot"):
            raise TypeError(f"ax: expected a matplotlib Axes or None, got {type(ax).__name__}")
        return ax, False
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    return ax, True


def _finish(ax, created, path, dpi):
    """Save to ``path`` when given; a figure made here and saved is closed so
    that scripts plotting in a loop do not pile up open figures."""
    if path is not None:
        ax.figure.savefig(os.fspath(path), dpi=dpi)
        if created:
            import matplotlib.pyplot as plt

            plt.close(ax.figure)
    return ax


def _curves(source):
    """(training costs, validation costs, best epoch or 0) of a History, a
    fitted estimator (or a Pipeline ending in one), or a mapping with "cost"
    (and "val_cost")."""
    final = getattr(source, "_final_estimator", None)  # a scikit-learn Pipeline
    if final is not None and hasattr(final, "get_params"):
        source = final
    if hasattr(source, "loss_curve_") or hasattr(source, "get_params"):
        if not hasattr(source, "loss_curve_"):
            raise ValueError(
                f"history_or_estimator: {type(source).__name__} is not fitted "
                f"(it has no loss_curve_); call fit first"
            )
        return (list(source.loss_curve_), list(getattr(source, "validation_loss_curve_", [])), 0)
    try:
        cost = source["cost"]
    except (KeyError, TypeError, IndexError):
        raise TypeError(
            f"history_or_estimator: expected a fnn_numba History, a fitted "
            f"FNNClassifier/FNNRegressor or a mapping with 'cost', got "
            f"{type(source).__name__}"
        ) from None
    try:
        val = source["val_cost"]
    except (KeyError, TypeError, AttributeError):
        val = []
    best = getattr(source, "best_epoch", 0) or 0
    return list(cost), list(val), int(best)


def plot_loss_curve(
    history_or_estimator,
    ax=None,
    path=None,
    *,
    log_scale=False,
    title=None,
    figsize=(6, 4),
    dpi=100,
):
    """Training cost per epoch, and validation cost when there is one.

    Parameters
    ----------
    history_or_estimator : History, fitted FNNClassifier/FNNRegressor (or a Pipeline ending in one), or mapping
        Where the curves come from: ``History.cost`` / ``.val_cost``,
        ``loss_curve_`` / ``validation_loss_curve_``, or ``["cost"]`` /
        ``["val_cost"]``.
    ax : matplotlib Axes, optional
        Draw here; default a new figure of ``figsize`` inches.
    path : str or path-like, optional
        Save the figure there (format from the extension, e.g. .png, .pdf).
    log_scale : bool
        Logarithmic cost axis (costs must be > 0).
    title : str, optional
    figsize : (float, float)
        Size of a new figure, inches.
    dpi : float
        Resolution when saving: a new figure is ``figsize * dpi`` pixels.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    When validation costs cover only the last epochs (a warm-started
    estimator), they are drawn against those epochs. The epoch with the
    lowest validation cost of a History is marked with a dotted line.
    """
    cost, val, best = _curves(history_or_estimator)
    if len(cost) == 0:
        raise ValueError("history_or_estimator: has no epochs to plot (its cost list is empty)")
    values = np.asarray(cost + val, dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError("history_or_estimator: the costs contain NaN or inf")
    if log_scale and np.any(values <= 0):
        raise ValueError(f"log_scale: needs costs > 0, the smallest is {values.min()!r}")
    ax, created = _axes(ax, figsize)
    epochs = np.arange(1, len(cost) + 1)
    ax.plot(epochs, cost, label="training cost", color="C0")
    if val:
        val_epochs = np.arange(len(cost) - len(val) + 1, len(cost) + 1)
        ax.plot(val_epochs, val, label="validation cost", color="C1")
        if 0 < best <= len(cost):
            ax.axvline(best, color="0.4", linestyle=":", linewidth=1, label=f"best epoch ({best})")
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cost J")
    if title is not None:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _finish(ax, created, path, dpi)


def _check_resolution(resolution):
    if (
        isinstance(resolution, bool)
        or not isinstance(resolution, numbers.Integral)
        or resolution < 2
    ):
        raise ValueError(
            f"resolution: expected an integer >= 2 (grid points per axis), got {resolution!r}"
        )
    return int(resolution)


def _points(X, columns_are_examples):
    """X as (m, 2) float points."""
    arr = np.asarray(X)
    if (
        arr.dtype == object
        or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool)
        or np.issubdtype(arr.dtype, np.complexfloating)
    ):
        raise TypeError(f"X: expected a real numeric array, got dtype {arr.dtype}")
    layout = (
        "(2, m) (columns are examples, as for a Network)"
        if columns_are_examples
        else "(m, 2) (rows are examples, as for a scikit-learn estimator)"
    )
    if arr.ndim != 2 or (arr.shape[0] if columns_are_examples else arr.shape[1]) != 2:
        raise ValueError(
            f"X: a decision boundary needs 2-D inputs of shape {layout}, got shape {arr.shape}"
        )
    pts = (arr.T if columns_are_examples else arr).astype(float)
    if pts.shape[0] == 0:
        raise ValueError("X: expected at least one example, got none")
    if not np.all(np.isfinite(pts)):
        raise ValueError("X: contains NaN or inf")
    return pts


def _network_classifier(net, X, y):
    """(points, class index of each point, grid -> class index, class names)
    for a Network, read as a classifier: argmax over outputs, or one output
    thresholded at 0.5."""
    if net.sizes[0] != 2:
        raise ValueError(
            f"model: a decision boundary needs a network with 2 inputs, got n0={net.sizes[0]}"
        )
    pts = _points(X, columns_are_examples=True)
    n_out = net.sizes[-1]
    if net.cost_name == "binary_cross_entropy" and n_out > 1:
        raise ValueError(
            f"model: a binary cross-entropy network with {n_out} outputs is "
            f"multilabel; a decision boundary needs one class per point"
        )
    n_classes = 2 if n_out == 1 else n_out
    y = np.asarray(y)
    m = pts.shape[0]
    if y.ndim == 2 and y.shape == (n_out, m) and n_out > 1:
        labels = np.argmax(y, axis=0)
    elif y.size == m and y.ndim in (1, 2) and (y.ndim == 1 or y.shape[0] == 1):
        labels = y.reshape(-1)
        if n_out == 1:
            labels = (labels > 0.5).astype(np.int64)
    else:
        raise ValueError(
            f"y: expected {m} labels, or one-hot targets of shape ({n_out}, {m}), "
            f"got shape {y.shape}"
        )
    if (
        not np.all(np.isfinite(labels.astype(float)))
        or np.any(labels != np.round(labels))
        or labels.min() < 0
        or labels.max() >= n_classes
    ):
        raise ValueError(
            f"y: expected integer class labels in [0, {n_classes}), got values in "
            f"[{labels.min()}, {labels.max()}]"
        )

    def classify(grid):
        out = net.forward(np.asfortranarray(grid.T))
        return (out[0] > 0.5).astype(np.int64) if n_out == 1 else np.argmax(out, axis=0)

    return pts, labels.astype(np.int64), classify, list(range(n_classes))


def _estimator_classifier(model, X, y):
    if not hasattr(model, "predict"):
        raise TypeError(
            f"model: expected a fnn_numba Network or a fitted classifier with predict, "
            f"got {type(model).__name__}"
        )
    classes = getattr(model, "classes_", None)
    if classes is None:
        raise TypeError(
            f"model: expected a fitted classifier (with classes_), got "
            f"{type(model).__name__} without classes_; is it fitted, and a classifier?"
        )
    classes = np.asarray(classes)
    pts = _points(X, columns_are_examples=False)
    y = np.asarray(y).reshape(-1) if np.ndim(y) == 2 and 1 in np.shape(y) else np.asarray(y)
    if y.ndim != 1 or y.shape[0] != pts.shape[0]:
        raise ValueError(
            f"y: expected {pts.shape[0]} labels of shape ({pts.shape[0]},), got shape {y.shape}"
        )
    if not np.all(np.isin(y, classes)):
        raise ValueError(
            f"y: labels {np.setdiff1d(y, classes)!r} are not among the model's classes_ {classes!r}"
        )
    order = np.argsort(classes)

    def index_of(labels):
        return order[np.searchsorted(classes, labels, sorter=order)]

    def classify(grid):
        pred = np.asarray(model.predict(grid))
        if pred.ndim != 1:
            raise ValueError(
                f"model: predict returned shape {pred.shape}; a decision boundary needs "
                f"one class per point (not multilabel or multi-output)"
            )
        return index_of(pred)

    return pts, index_of(y), classify, list(classes)


def plot_decision_boundary(
    model,
    X,
    y,
    ax=None,
    path=None,
    resolution=200,
    *,
    cmap="tab10",
    alpha=0.35,
    title=None,
    figsize=(6, 5),
    dpi=100,
):
    """The class the model assigns to every point of the plane, with the data.

    Parameters
    ----------
    model : Network or fitted scikit-learn classifier
        A :class:`fnn_numba.Network` with 2 inputs (softmax outputs: argmax;
        one output: thresholded at 0.5), or anything with ``predict`` and
        ``classes_`` (FNNClassifier, a Pipeline ending in a classifier, ...).
    X : array
        Shape (2, m) for a Network (columns are examples, as in its API),
        (m, 2) for a scikit-learn classifier.
    y : array
        Labels of the m examples: shape (m,); for a Network also one-hot
        (nL, m) or (1, m) 0/1 targets.
    ax : matplotlib Axes, optional
    path : str or path-like, optional
        Save the figure there.
    resolution : int
        Grid points per axis (resolution^2 predictions).
    cmap : str or Colormap
        Class k is drawn in ``cmap(k)`` (qualitative maps such as tab10) or,
        when the map has fewer colours than classes, spread over the map.
    alpha : float
        Opacity of the class regions (the points are opaque).
    title : str, optional
    figsize : (float, float)
    dpi : float

    Returns
    -------
    matplotlib.axes.Axes
    """
    from .network import Network

    resolution = _check_resolution(resolution)
    if not (isinstance(alpha, numbers.Real) and 0 <= alpha <= 1):
        raise ValueError(f"alpha: expected a number in [0, 1], got {alpha!r}")
    if isinstance(model, Network):
        pts, labels, classify, names = _network_classifier(model, X, y)
    else:
        pts, labels, classify, names = _estimator_classifier(model, X, y)
    mpl = _matplotlib()
    from matplotlib.colors import ListedColormap

    colormap = mpl.colormaps[cmap] if isinstance(cmap, str) else cmap
    n = len(names)
    n_colors = getattr(colormap, "N", 256)
    colors = (
        [colormap(k) for k in range(n)]
        if n <= n_colors < 256
        else [colormap(t) for t in np.linspace(0, 1, n)]
    )

    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = np.where(hi > lo, 0.1 * (hi - lo), 0.5)
    gx = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    gy = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    xx, yy = np.meshgrid(gx, gy)
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    regions = np.asarray(classify(grid)).reshape(xx.shape)

    ax, created = _axes(ax, figsize)
    ax.pcolormesh(
        xx,
        yy,
        regions,
        cmap=ListedColormap(colors),
        vmin=-0.5,
        vmax=n - 0.5,
        alpha=alpha,
        shading="nearest",
        rasterized=True,
    )
    if n > 1 and np.unique(regions).size > 1:
        ax.contour(xx, yy, regions, levels=np.arange(n - 1) + 0.5, colors="k", linewidths=0.8)
    for k, name in enumerate(names):
        mask = labels == k
        if np.any(mask):
            ax.scatter(
                pts[mask, 0],
                pts[mask, 1],
                color=colors[k],
                edgecolors="k",
                linewidths=0.5,
                s=22,
                label=str(name),
                zorder=3,
            )
    ax.set_xlim(gx[0], gx[-1])
    ax.set_ylim(gy[0], gy[-1])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    if title is not None:
        ax.set_title(title)
    ax.legend(title="class", loc="best", fontsize="small")
    return _finish(ax, created, path, dpi)


# ------------------------------------------------------- convolutional layers
def _grid(images, titles, path, dpi, title, cmap):
    """One figure with the 2-D ``images`` in a near-square grid; saved to
    ``path`` when given (and then closed). Returns the Figure."""
    _matplotlib()
    import matplotlib.pyplot as plt

    n = len(images)
    ncols = int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.6 * nrows + 0.4), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k < n:
            ax.imshow(images[k], cmap=cmap, interpolation="nearest")
            ax.set_title(titles[k], fontsize=8)
        else:
            ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(os.fspath(path), dpi=dpi)
        plt.close(fig)
    return fig


def _conv_layer(net, layer, kinds, what):
    """The index l (1-based) of the network's layer ``layer`` (an index, or
    None for the first layer of one of ``kinds``)."""
    from .layers import Layer

    if not hasattr(net, "layers") or not all(isinstance(x, Layer) for x in net.layers):
        raise TypeError(f"net: expected a fnn_numba Network, got {type(net).__name__}")
    if layer is None:
        found = [l for l, x in enumerate(net.layers) if l > 0 and isinstance(x, kinds)]
        if not found:
            raise ValueError(f"net: has no {what}")
        return found[0]
    if (
        isinstance(layer, bool)
        or not isinstance(layer, numbers.Integral)
        or not 1 <= layer < len(net.layers)
        or not isinstance(net.layers[layer], kinds)
    ):
        raise ValueError(
            f"layer: expected the index (1..{len(net.layers) - 1}) of a {what}, got {layer!r}"
        )
    return int(layer)


def plot_filters(net, layer=None, path=None, *, channel=None, cmap="gray", dpi=100, title=None):
    """The learned kernels w[f, c, :, :] of a Conv2D layer as images.

    ``layer`` is the layer's index l in ``net.layers`` (default: the first
    Conv2D); ``channel`` picks one input channel c (default: every channel,
    one image per (f, c)). Saves to ``path`` when given; returns the Figure.
    """
    from .layers import Conv2D

    l = _conv_layer(net, layer, Conv2D, "Conv2D layer")
    w = net._param_view(net._params, l - 1, "W")
    F, C = w.shape[:2]
    channels = range(C) if channel is None else [channel]
    if channel is not None and (
        isinstance(channel, bool)
        or not isinstance(channel, numbers.Integral)
        or not 0 <= channel < C
    ):
        raise ValueError(f"channel: expected an input channel in 0..{C - 1}, got {channel!r}")
    images = [w[f, c] for f in range(F) for c in channels]
    titles = [f"f={f}" + (f", c={c}" if C > 1 else "") for f in range(F) for c in channels]
    return _grid(images, titles, path, dpi, title or f"layer {l} filters", cmap)


def plot_feature_maps(net, x, layer=None, path=None, *, cmap="viridis", dpi=100, title=None):
    """Layer ``layer``'s output maps a[c, :, :] for one input ``x`` (a (C, H, W)
    array, or a column of C H W values). ``layer`` is the index l of a layer
    with maps (Conv2D, pooling, Subsample2D; default the first Conv2D).
    Saves to ``path`` when given; returns the Figure."""
    from .layers import AvgPool2D, Conv2D, Dropout, MaxPool2D, Subsample2D

    l = _conv_layer(
        net, layer, (Conv2D, MaxPool2D, AvgPool2D, Subsample2D, Dropout), "layer with maps"
    )
    shape = net.layers[l].output_shape
    if len(shape) != 3:
        raise ValueError(f"layer: layer {l} has no maps (output shape {shape})")
    arr = np.asarray(x, dtype=np.float64)
    if arr.size != net.sizes[0]:
        raise ValueError(
            f"x: expected one input of {net.input_layer.shape} ({net.sizes[0]} values), "
            f"got shape {arr.shape}"
        )
    a = net.forward(arr.reshape(-1, 1), return_all=True).A[l - 1][:, 0].reshape(shape)
    return _grid(
        list(a),
        [f"map {c}" for c in range(shape[0])],
        path,
        dpi,
        title or f"layer {l} ({type(net.layers[l]).__name__}) feature maps",
        cmap,
    )
