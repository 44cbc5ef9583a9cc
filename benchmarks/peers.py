"""The libraries the comparison measures, each behind one factory.

``PEER_FACTORIES[name](sizes, batch, dtype, X_samples, labels, lr)`` builds
the network of :mod:`workloads` in that library and returns two callables:
``train(epochs)`` (whole epochs of mini-batch SGD over shuffled examples) and
``infer()`` (one forward pass over every example). A library that is not
installed raises :class:`PeerUnavailable`, and the comparison skips it with a
message.

- fnn_numba: ``Network.fit`` and ``Network.forward``;
- PyTorch: eager ``nn.Sequential`` of ``Linear`` and ``ReLU``,
  ``CrossEntropyLoss`` and ``torch.optim.SGD``;
- NumPy: the vectorised step of ``fnn_numba.vectorized`` (BLAS products);
- scikit-learn: ``MLPClassifier(solver="sgd", momentum=0, alpha=0)`` through
  ``partial_fit`` (one pass over the data per call).
"""

import os
import sys

import numpy as np

from .workloads import he_weights, one_hot

PEERS = ("fnn_numba", "PyTorch", "NumPy", "scikit-learn")


class PeerUnavailable(Exception):
    """A peer library is not installed (or cannot run here)."""


def _peer_fnn(sizes, batch, dtype, X_samples, labels, lr):
    from fnn_numba.network import Network

    L = len(sizes) - 1
    net = Network(
        sizes,
        activations=["relu"] * (L - 1) + ["softmax"],
        cost="categorical_cross_entropy",
        init="he",
        dtype=dtype,
        seed=0,
    )
    X = X_samples.T  # (n0, m) F-ordered: no copy

    def train(epochs):
        net.fit(X, labels, epochs=epochs, batch_size=batch, learning_rate=lr, progress=False)

    def infer():
        net.forward(X)

    return train, infer


def _peer_torch(sizes, batch, dtype, X_samples, labels, lr):
    try:
        import torch
    except ImportError as exc:
        raise PeerUnavailable(f"PyTorch is not installed ({exc})") from None
    torch.set_num_threads(_THREADS or cpu_count())
    torch.manual_seed(0)
    tdtype = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    layers = []
    for l in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[l], sizes[l + 1]))
        if l < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers).to(tdtype)
    for layer in model:
        if isinstance(layer, torch.nn.Linear):  # He initialisation, zero biases, as the others
            torch.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            torch.nn.init.zeros_(layer.bias)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    Xt = torch.from_numpy(X_samples)
    yt = torch.from_numpy(labels)
    m = Xt.shape[0]
    gen = torch.Generator().manual_seed(0)

    def train(epochs):
        for _ in range(epochs):
            order = torch.randperm(m, generator=gen)
            for s in range(0, m, batch):
                idx = order[s : s + batch]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(Xt[idx]), yt[idx])
                loss.backward()
                opt.step()

    def infer():
        with torch.no_grad():
            model(Xt)

    return train, infer


def _peer_numpy(sizes, batch, dtype, X_samples, labels, lr):
    from fnn_numba.vectorized import forward_vectorized, train_step

    L = len(sizes) - 1
    weights, biases = he_weights(sizes, dtype, seed=0)
    activations = ["relu"] * (L - 1) + ["softmax"]
    Y = one_hot(labels, sizes[-1], dtype)
    m = X_samples.shape[0]
    rng = np.random.default_rng(0)

    def train(epochs):
        for _ in range(epochs):
            order = rng.permutation(m)
            for s in range(0, m, batch):
                idx = order[s : s + batch]
                train_step(weights, biases, activations, X_samples[idx].T, Y[:, idx], lr)

    def infer():
        forward_vectorized(weights, biases, activations, X_samples.T)

    return train, infer


def _peer_sklearn(sizes, batch, dtype, X_samples, labels, lr):
    try:
        from sklearn.neural_network import MLPClassifier
    except ImportError as exc:
        raise PeerUnavailable(f"scikit-learn is not installed ({exc})") from None
    import warnings

    clf = MLPClassifier(
        hidden_layer_sizes=tuple(sizes[1:-1]),
        activation="relu",
        solver="sgd",
        alpha=0.0,
        batch_size=batch,
        learning_rate="constant",
        learning_rate_init=lr,
        momentum=0.0,
        nesterovs_momentum=False,
        shuffle=True,
        random_state=0,
    )
    classes = np.arange(sizes[-1])

    def train(epochs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(epochs):  # partial_fit: one pass over the data in mini-batches
                clf.partial_fit(X_samples, labels, classes=classes)

    def infer():
        clf.predict_proba(X_samples)

    return train, infer


PEER_FACTORIES = {
    "fnn_numba": _peer_fnn,
    "PyTorch": _peer_torch,
    "NumPy": _peer_numpy,
    "scikit-learn": _peer_sklearn,
}


#: the thread count of :func:`set_threads` (None: each library's default)
_THREADS = None
#: threadpoolctl's limit object: dropping it would restore BLAS's own count
_BLAS_LIMITS = None


def set_threads(n):
    """Use ``n`` threads in every library: Numba's parallel kernels, BLAS
    (through threadpoolctl, when installed), PyTorch."""
    global _THREADS, _BLAS_LIMITS
    import numba

    _THREADS = int(n)
    numba.set_num_threads(min(_THREADS, numba.config.NUMBA_NUM_THREADS))
    for module in ("sklearn.neural_network", "torch"):  # load their BLAS before limiting it
        try:
            __import__(module)
        except ImportError:
            pass
    try:
        from threadpoolctl import threadpool_limits

        _BLAS_LIMITS = threadpool_limits(limits=_THREADS, user_api="blas")
    except ImportError:
        log("threadpoolctl is not installed: BLAS keeps its own thread count")
    try:
        import torch

        torch.set_num_threads(_THREADS)
    except ImportError:
        pass


def cpu_count():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def log(message):
    """Progress messages go to stderr, so that stdout holds the report alone."""
    print(message, file=sys.stderr, flush=True)
