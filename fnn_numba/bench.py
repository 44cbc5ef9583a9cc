"""Speed and memory benchmarks: fnn_numba against its peers, measured in one run.

Three users of this module:

- ``fnn-numba bench`` (and ``python benchmarks/compare.py``) writes the
  comparison as a markdown table: training and inference samples/s of
  fnn_numba, PyTorch eager CPU, the vectorised NumPy step
  (:func:`fnn_numba.vectorized.train_step`) and scikit-learn's
  ``MLPClassifier(solver="sgd")``, ratios first, absolute figures below,
  then the peak memory of ``fit``, the JIT cold and warm start, and (with
  ``--profile``) the time of every kernel of a training step against BLAS;
- the asv suite in ``benchmarks/`` takes its shapes and workloads from here
  (:data:`SHAPES`, :class:`KernelWorkload`, :class:`NetworkWorkload`), so
  that asv and the comparison time the same calls;
- ``tests/test_bench.py`` runs the comparison on a tiny shape.

Every network is the same for every library: relu hidden layers, a softmax
output, categorical cross-entropy, He initialisation, plain mini-batch SGD
(no momentum, no L2), examples shuffled every epoch, synthetic data (standard
normal inputs, uniformly drawn labels).

How samples/s are measured: each library is first warmed up (one untimed
epoch and one untimed forward pass: compilation, allocation, caches), then
the libraries are timed in turn, round after round (``--repeats`` rounds; the
order rotates each round), so a burst of noise on a shared machine hits all
of them alike. One timed sample runs whole epochs (or forward passes) for at
least ``--seconds``. A pause of ``SETTLE_SECONDS`` before each sample lets
the previous library's spinning worker threads (OpenMP, OpenBLAS) go idle.
The figure quoted is the median over the rounds, with the range.
"""
import argparse
import gc
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

#: name -> (layer sizes [n0, ..., nL], mini-batch size)
SHAPES = {
    "64-32-10": ((64, 32, 10), 32),
    "784-128-10": ((784, 128, 10), 64),
    "784-512-512-10": ((784, 512, 512, 10), 256),
    "2048-2048-2048-10": ((2048, 2048, 2048, 10), 1024),
}
DTYPES = {"float32": np.float32, "float64": np.float64}
PEERS = ("fnn_numba", "PyTorch", "NumPy", "scikit-learn")
LEARNING_RATE = 0.01
#: examples in the synthetic training set: at least this many, and at least
#: ``MIN_BATCHES`` mini-batches
MIN_EXAMPLES = 8192
MIN_BATCHES = 8
SETTLE_SECONDS = 0.2
#: the tiny twin that warms the JIT up (two hidden layers: every kernel of a step runs)
TINY_SIZES = (6, 5, 4, 3)
#: the network of the JIT start measurement (compile time does not depend on the sizes)
STARTUP_SIZES = (64, 32, 10)


# --------------------------------------------------------------------------- shapes and data
def parse_shape(text):
    """``"784-128-10"`` (one of :data:`SHAPES`, with its batch size) or
    ``"784-128-10:64"`` (any sizes, batch 64). Returns (label, sizes, batch)."""
    name, _, batch = str(text).partition(":")
    if name in SHAPES and not batch:
        sizes, b = SHAPES[name]
        return name, list(sizes), b
    try:
        sizes = [int(s) for s in name.split("-")]
        b = int(batch) if batch else 32
    except ValueError:
        raise ValueError(f"shape: expected sizes joined by '-' with an optional ':batch' "
                         f"(such as 784-128-10:64), got {text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1 or b < 1:
        raise ValueError(f"shape: expected at least two positive sizes and a positive batch, got {text!r}")
    return f"{name}:{b}", sizes, b


def default_examples(batch):
    """Size of the synthetic training set for a batch size."""
    return max(MIN_EXAMPLES, MIN_BATCHES * batch)


def synthetic_data(sizes, m, dtype, seed=0):
    """``m`` examples: inputs (m, n0) C-ordered (scikit-learn's and PyTorch's
    layout; its transpose is fnn_numba's (n0, m) without a copy) drawn from
    N(0, 1), and integer labels in [0, nL)."""
    rng = np.random.default_rng(seed)
    X_samples = rng.standard_normal((m, sizes[0]), dtype=np.float32).astype(dtype, copy=False)
    labels = rng.integers(0, sizes[-1], m)
    return X_samples, labels


def one_hot(labels, n_classes, dtype):
    """(n_classes, m) F-ordered one-hot columns."""
    y = np.zeros((n_classes, labels.shape[0]), dtype=dtype, order="F")
    y[labels, np.arange(labels.shape[0])] = 1
    return y


def he_weights(sizes, dtype, seed=0):
    """W[l] ~ N(0, 2/n[l-1]) (C-ordered (n[l], n[l-1])) and b[l] = 0."""
    rng = np.random.default_rng(seed)
    weights = [(rng.standard_normal((sizes[l + 1], sizes[l])) * np.sqrt(2.0 / sizes[l])).astype(dtype)
               for l in range(len(sizes) - 1)]
    biases = [np.zeros(sizes[l + 1], dtype=dtype) for l in range(len(sizes) - 1)]
    return weights, biases


def gemm_flops(n, K, m):
    """Floating-point operations of an (n, K) by (K, m) product: 2 n K m."""
    return 2.0 * n * K * m


# --------------------------------------------------------------------------- workloads
class KernelWorkload:
    """The arrays of one training step, in the layouts ``engine.py`` gives them,
    so that each kernel can be called on its own with a step's sizes.

    ``calls`` lists, in the order a training step runs them, every kernel call
    of one step as (kernel, layer, callable, flops, (n, K, m)); ``groups`` maps
    each kernel name (and ``costs``: the batch cost J and the fused output
    delta) to the list of its calls over all layers.

    ``warm="full"`` runs every call once (realistic values, such as softmax
    columns in a[L], and every page touched); ``warm="tiny"`` (cheap, for the
    asv suite) runs every call of a tiny twin of the same dtype instead: the
    compiled code depends on the argument types only, so either way no later
    call compiles.
    """

    def __init__(self, sizes, batch, dtype, seed=0, warm="full"):
        from . import kernels as K
        from .activations import RELU, SOFTMAX
        from .costs import CATEGORICAL_CROSS_ENTROPY

        self.sizes, self.batch, self.dtype = list(sizes), int(batch), np.dtype(dtype).type
        L, m = len(sizes) - 1, self.batch
        rng = np.random.default_rng(seed)

        def f_mat(n, cols):
            return np.asfortranarray(rng.standard_normal((n, cols), dtype=np.float32).astype(self.dtype))

        self.w, self.b = he_weights(sizes, self.dtype, seed)
        self.dw = [np.full_like(w, 0) for w in self.w]
        self.db = [np.zeros_like(b) for b in self.b]
        self.a = [f_mat(n, m) for n in sizes]               # a[0] is the input batch
        self.z = [None] + [f_mat(n, m) for n in sizes[1:]]
        self.da = [f_mat(n, m) for n in sizes]
        self.dz = [None] + [f_mat(n, m) for n in sizes[1:]]
        self.dz_rows = [None] + [np.full((n, m), 0, dtype=self.dtype) for n in sizes[1:]]
        self.a_rows = [np.full((n, m), 0, dtype=self.dtype) for n in sizes[:-1]]
        self.y = one_hot(rng.integers(0, sizes[-1], m), sizes[-1], self.dtype)
        self.losses = np.zeros(m, dtype=self.dtype)
        n_params = sum(w.size + b.size for w, b in zip(self.w, self.b))
        self.params = rng.standard_normal(n_params, dtype=np.float32).astype(self.dtype)
        self.grads = (rng.standard_normal(n_params, dtype=np.float32) * 1e-6).astype(self.dtype)
        codes = [RELU] * (L - 1) + [SOFTMAX]
        zero_l2 = self.dtype(0)

        calls = []
        for l in range(1, L + 1):
            n, k = sizes[l], sizes[l - 1]
            calls.append(("z_forward", l, self._bind(K.z_forward, self.w[l - 1], self.b[l - 1],
                                                     self.a[l - 1], self.z[l]),
                          gemm_flops(n, k, m), (n, k, m)))
            calls.append(("activation_forward", l, self._bind(K.activation_forward, codes[l - 1],
                                                              self.z[l], self.a[l]), 0.0, None))
        calls.append(("example_losses", L, self._cost_call(K, codes[-1], CATEGORICAL_CROSS_ENTROPY), 0.0, None))
        calls.append(("output_delta_fused", L, self._bind(K.output_delta_fused, codes[-1], self.a[L],
                                                          self.y, self.dz[L]), 0.0, None))
        for l in range(L, 0, -1):
            n, k = sizes[l], sizes[l - 1]
            if l < L:
                calls.append(("dz_backward", l, self._bind(K.dz_backward, codes[l - 1], self.z[l], self.a[l],
                                                           self.da[l], self.dz[l]), 0.0, None))
            calls.append(("dw_db_backward", l, self._bind(K.dw_db_backward, self.dz[l], self.a[l - 1],
                                                          self.w[l - 1], zero_l2, self.dw[l - 1], self.db[l - 1],
                                                          self.dz_rows[l], self.a_rows[l - 1]),
                          gemm_flops(n, k, m), (n, k, m)))
            if l > 1:
                calls.append(("da_prev_backward", l, self._bind(K.da_prev_backward, self.w[l - 1],
                                                                self.dz[l], self.da[l - 1]),
                              gemm_flops(n, k, m), (k, n, m)))
        calls.append(("update", 0, self._update_call(K), 0.0, None))
        self.calls = calls
        groups = {}
        for name, _, fn, _, _ in calls:
            key = "costs" if name in ("example_losses", "output_delta_fused") else name
            groups.setdefault(key, []).append(fn)
        self.groups = groups
        if warm == "full":
            for _, _, fn, _, _ in calls:
                fn()
        elif warm == "tiny":
            KernelWorkload(TINY_SIZES, 5, self.dtype, warm="full")
        else:
            raise ValueError(f"warm: expected 'full' or 'tiny', got {warm!r}")

    @staticmethod
    def _bind(kernel, *args):
        def call():
            kernel(*args)
        return call

    def _cost_call(self, K, out_code, cost_code):
        L = len(self.sizes) - 1

        def call():
            K.example_losses(cost_code, out_code, True, self.z[L], self.a[L], self.y, self.losses)
            return K.mean_of(self.losses)
        return call

    def _update_call(self, K):
        """Plain SGD as ``engine.train_batches`` runs it (``engine.apply_update``:
        the finiteness check, then the update)."""
        from .engine import apply_update
        sgd = K.OPTIMIZERS["sgd"]
        empty = np.zeros(0, dtype=self.dtype)

        def call():
            apply_update(self.params, self.grads, sgd, empty, empty, empty, 1, LEARNING_RATE,
                         0.0, 0.9, 0.999, 1e-8, 0.0)
        return call

    def run(self, group):
        """Run every call of one kernel group (all layers of the step)."""
        for fn in self.groups.get(group, ()):
            fn()

    def gemm_references(self):
        """For each GEMM-shaped call, a NumPy (BLAS) product of the same
        (n, K, m), with its output preallocated: kernel index -> callable."""
        refs = {}
        for idx, (name, l, _, _, _) in enumerate(self.calls):
            if name == "z_forward":
                w, a_prev = self.w[l - 1], self.a[l - 1]
                out = np.empty((w.shape[0], a_prev.shape[1]), dtype=self.dtype, order="F")
                refs[idx] = self._bind(np.matmul, w, a_prev, out)
            elif name == "dw_db_backward":
                dz, a_prev = self.dz[l], self.a[l - 1]
                out = np.empty((dz.shape[0], a_prev.shape[0]), dtype=self.dtype)
                refs[idx] = self._bind(np.matmul, dz, a_prev.T, out)
            elif name == "da_prev_backward":
                w, dz = self.w[l - 1], self.dz[l]
                out = np.empty((w.shape[1], dz.shape[1]), dtype=self.dtype, order="F")
                refs[idx] = self._bind(np.matmul, w.T, dz, out)
        for fn in refs.values():
            fn()
        return refs


class NetworkWorkload:
    """A :class:`~fnn_numba.Network` (relu hidden layers, softmax output,
    categorical cross-entropy, He initialisation) with ``n_batches``
    mini-batches of synthetic data; construction warms the JIT up.

    ``epoch()`` is ``Network.fit`` for one epoch; ``forward()`` is
    ``Network.forward`` on the whole data; ``train_step()`` is one training
    step on the first mini-batch: the very call of the jitted driver
    ``engine.train_batches`` that ``fit`` makes for a one-batch epoch
    (recorded once, then replayed), without ``fit``'s per-call checks.
    ``warm``: run all three on a tiny twin of the same dtype first, so that
    nothing compiles later (the compiled code depends on the types only).
    """

    def __init__(self, sizes, batch, dtype, n_batches=4, seed=0, examples=None, warm=True):
        from .network import Network

        self.sizes, self.batch, self.dtype = list(sizes), int(batch), np.dtype(dtype).type
        L = len(sizes) - 1
        self.net = Network(self.sizes, activations=["relu"] * (L - 1) + ["softmax"],
                           cost="categorical_cross_entropy", init="he", dtype=self.dtype, seed=seed)
        m = examples if examples is not None else self.batch * n_batches
        self.X_samples, self.labels = synthetic_data(self.sizes, m, self.dtype, seed)
        self.X = self.X_samples.T
        if warm:
            twin = NetworkWorkload(TINY_SIZES, 4, self.dtype, n_batches=2, seed=seed, warm=False)
            twin.epoch()
            twin.forward()
            twin.train_step()
        self._step_call = self._record_step_call()

    def epoch(self, epochs=1):
        return self.net.fit(self.X, self.labels, epochs=epochs, batch_size=self.batch,
                            learning_rate=LEARNING_RATE, progress=False)

    def forward(self):
        return self.net.forward(self.X)

    def train_step(self):
        """One step on the first mini-batch: gather, forward, cost, backward,
        update, as ``fit`` runs it."""
        fn, args, kwargs = self._step_call
        bad = fn(*args, **kwargs)
        if bad >= 0:
            raise FloatingPointError("benchmark training step diverged")

    def _record_step_call(self):
        """Let ``fit`` make its call of ``engine.train_batches`` for an epoch
        of one batch, and record it instead of running it (the network is left
        unchanged): replaying the call is one training step, whatever the
        driver's arguments are."""
        from . import engine

        driver = engine.train_batches
        calls = []

        def recorder(*args, **kwargs):
            calls.append((args, kwargs))
            return -1    # "every batch ran"

        engine.train_batches = recorder
        try:
            self.net.fit(np.asfortranarray(self.X[:, :self.batch]), self.labels[:self.batch], epochs=1,
                         batch_size=self.batch, learning_rate=LEARNING_RATE, shuffle=False, progress=False)
        finally:
            engine.train_batches = driver
        if len(calls) != 1:
            raise RuntimeError(f"expected fit to call engine.train_batches once for one batch, got {len(calls)}")
        return (driver,) + calls[0]


# --------------------------------------------------------------------------- the peers
class PeerUnavailable(Exception):
    """A peer library is not installed (or cannot run here)."""


def _peer_fnn(sizes, batch, dtype, X_samples, labels, lr):
    from .network import Network

    L = len(sizes) - 1
    net = Network(sizes, activations=["relu"] * (L - 1) + ["softmax"], cost="categorical_cross_entropy",
                  init="he", dtype=dtype, seed=0)
    X = X_samples.T   # (n0, m) F-ordered: no copy

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
        if isinstance(layer, torch.nn.Linear):   # He initialisation, zero biases, as the others
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
                idx = order[s:s + batch]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(Xt[idx]), yt[idx])
                loss.backward()
                opt.step()

    def infer():
        with torch.no_grad():
            model(Xt)
    return train, infer


def _peer_numpy(sizes, batch, dtype, X_samples, labels, lr):
    from .vectorized import forward_vectorized, train_step

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
                idx = order[s:s + batch]
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

    clf = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), activation="relu", solver="sgd",
                        alpha=0.0, batch_size=batch, learning_rate="constant", learning_rate_init=lr,
                        momentum=0.0, nesterovs_momentum=False, shuffle=True, random_state=0)
    classes = np.arange(sizes[-1])

    def train(epochs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(epochs):   # partial_fit: one pass over the data in mini-batches
                clf.partial_fit(X_samples, labels, classes=classes)

    def infer():
        clf.predict_proba(X_samples)
    return train, infer


PEER_FACTORIES = {"fnn_numba": _peer_fnn, "PyTorch": _peer_torch, "NumPy": _peer_numpy,
                  "scikit-learn": _peer_sklearn}


# --------------------------------------------------------------------------- measuring
_THREADS = None
_BLAS_LIMITS = None


def set_threads(n):
    """Use ``n`` threads in every library: Numba's parallel kernels, BLAS
    (through threadpoolctl, when installed), PyTorch."""
    global _THREADS, _BLAS_LIMITS
    import numba

    _THREADS = int(n)
    numba.set_num_threads(min(_THREADS, numba.config.NUMBA_NUM_THREADS))
    for module in ("sklearn.neural_network", "torch"):   # load their BLAS before limiting it
        try:
            __import__(module)
        except ImportError:
            pass
    try:
        from threadpoolctl import threadpool_limits
        _BLAS_LIMITS = threadpool_limits(limits=_THREADS, user_api="blas")
    except ImportError:
        _log("threadpoolctl is not installed: BLAS keeps its own thread count")
    try:
        import torch
        torch.set_num_threads(_THREADS)
    except ImportError:
        pass


def cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def _log(message):
    print(message, file=sys.stderr, flush=True)


def _time_once(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def compare_shape(sizes, batch, dtype, peers, repeats, seconds, examples=None, log=_log):
    """Training and inference samples/s of every available peer on one shape.

    Returns {peer: {"train": [samples/s per round], "infer": [...],
    "epochs_per_sample": E, "calls_per_sample": C}} and {peer: reason} for the
    peers that could not run.
    """
    m = examples or default_examples(batch)
    X_samples, labels = synthetic_data(sizes, m, dtype)
    runners, skipped = {}, {}
    for name in peers:
        try:
            train, infer = PEER_FACTORIES[name](list(sizes), batch, dtype, X_samples, labels, LEARNING_RATE)
            train(1)                     # warm-up: JIT, allocation, caches
            infer()
            t_epoch = _time_once(train, 1)
            t_infer = _time_once(infer)
        except PeerUnavailable as exc:
            skipped[name] = str(exc)
            log(f"  {name}: skipped: {exc}")
            continue
        runners[name] = dict(train_fn=train, infer_fn=infer,
                             epochs=max(1, int(round(seconds / max(t_epoch, 1e-9)))),
                             calls=max(1, int(round(seconds / max(t_infer, 1e-9)))),
                             train=[], infer=[])
    names = list(runners)
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)] if names else []
        for name in order:
            run = runners[name]
            time.sleep(SETTLE_SECONDS)
            t = _time_once(run["train_fn"], run["epochs"])
            run["train"].append(m * run["epochs"] / t)
            time.sleep(SETTLE_SECONDS)
            t0 = time.perf_counter()
            for _ in range(run["calls"]):
                run["infer_fn"]()
            run["infer"].append(m * run["calls"] / (time.perf_counter() - t0))
        log(f"  round {r + 1}/{repeats}: " + ", ".join(
            f"{n} {runners[n]['train'][-1]:,.0f}/s" for n in names))
    results = {n: dict(train=runners[n]["train"], infer=runners[n]["infer"],
                       epochs_per_sample=runners[n]["epochs"], calls_per_sample=runners[n]["calls"],
                       examples=m) for n in names}
    return results, skipped


def _child_env(extra=None):
    """The environment of a measurement subprocess: this one, with this
    package importable."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if extra:
        env.update(extra)
    return env


def _run_child(code, env, timeout=1800, cwd=None):
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"measurement subprocess failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_seconds"] = wall
    return result


_STARTUP_CHILD = """
import time
t0 = time.perf_counter()
import numpy as np
import fnn_numba as fnn
t1 = time.perf_counter()
sizes, dtype = {sizes!r}, np.{dtype}
rng = np.random.default_rng(0)
X = rng.standard_normal((sizes[0], 256)).astype(dtype)
y = rng.integers(0, sizes[-1], 256)
net = fnn.Network(list(sizes), dtype=dtype, seed=0)
net.fit(X, y, epochs=1, batch_size=32, learning_rate=0.01)
net.forward(X)
t2 = time.perf_counter()
import json
print(json.dumps({{"import_seconds": t1 - t0, "first_fit_seconds": t2 - t1}}))
"""


def snapshot_package(dest):
    """Copy this package's sources to ``dest``/fnn_numba and return ``dest``.

    The JIT start is measured on such a snapshot: the package clears its
    compiled-kernel cache whenever a jitted module's source changes
    (:mod:`fnn_numba._cache`), so an edit of the working tree between the
    cold and the warm run would otherwise turn the warm run into a cold one.
    """
    import shutil

    src = os.path.dirname(os.path.abspath(__file__))
    shutil.copytree(src, os.path.join(dest, "fnn_numba"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc", "*.pyc"))
    return dest


def startup_code(dtype_name, sizes=STARTUP_SIZES):
    """The program whose first ``fit`` the JIT start measures; prints JSON."""
    return _STARTUP_CHILD.format(sizes=tuple(sizes), dtype=dtype_name)


def jit_start_times(dtype_name, runs=3, log=_log):
    """Cold and warm start of a fresh process: ``import fnn_numba``, then a
    first ``fit`` (one epoch, 256 examples of a 64-32-10 network) and
    ``forward``. Cold: an empty ``NUMBA_CACHE_DIR``, so every kernel is
    compiled; warm: the same directory again, so every kernel is loaded from
    the cache. ``runs`` fresh directories, each timed cold then warm, on a
    snapshot of the package (:func:`snapshot_package`).
    Returns {"cold": [results], "warm": [results]}."""
    code = startup_code(dtype_name)
    out = {"cold": [], "warm": []}
    for r in range(runs):
        with tempfile.TemporaryDirectory(prefix="fnn-numba-bench-") as tmp:
            cache = os.path.join(tmp, "numba_cache")
            src = snapshot_package(os.path.join(tmp, "src"))
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
            for kind in ("cold", "warm"):
                # cwd: ``python -c`` puts the current directory first on sys.path
                res = _run_child(code, env, cwd=tmp)
                out[kind].append(res)
                log(f"  JIT start {dtype_name} run {r + 1}/{runs} {kind}: import "
                    f"{res['import_seconds']:.2f} s, first fit {res['first_fit_seconds']:.2f} s, "
                    f"process {res['process_seconds']:.2f} s")
    return out


def _read_status_kib(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _reset_peak_rss():
    """Reset the kernel's high-water mark VmHWM to the current RSS (Linux)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def memory_child(spec):
    """Run in a fresh process: peak memory of ``Network.fit``. Prints JSON.

    The JIT is warmed first on a tiny network of the same dtype (compiled code
    is not counted). Then, from a baseline: make the data, the network, and fit
    for ``epochs`` epochs. Two measures: the RSS high-water mark (VmHWM, reset
    at the baseline and again just before fit) and tracemalloc's peak (Python
    and NumPy allocations only; Numba's own allocations inside jitted code are
    not traced).
    """
    import tracemalloc

    from .network import Network

    sizes, batch, dtype, m, epochs = (spec["sizes"], spec["batch"], DTYPES[spec["dtype"]],
                                      spec["examples"], spec["epochs"])
    L = len(sizes) - 1
    acts = ["relu"] * (L - 1) + ["softmax"]
    tiny = [sizes[0] if sizes[0] <= 8 else 8] + [4] * (L - 1) + [3]
    Network(tiny, activations=acts, dtype=dtype, seed=0).fit(
        np.zeros((tiny[0], 8), dtype=dtype), np.zeros(8, dtype=np.int64), epochs=1, batch_size=4,
        progress=False)
    gc.collect()
    result = {}
    try:
        _reset_peak_rss()
        can_reset = True
    except OSError:
        can_reset = False
    base_rss = _read_status_kib("VmRSS") * 1024
    tracemalloc.start()
    X_samples, labels = synthetic_data(sizes, m, dtype)
    net = Network(sizes, activations=acts, cost="categorical_cross_entropy", init="he", dtype=dtype, seed=0)
    gc.collect()
    before_fit_rss = _read_status_kib("VmRSS") * 1024
    before_fit_traced = tracemalloc.get_traced_memory()[0]
    if can_reset:
        _reset_peak_rss()
    tracemalloc.reset_peak()
    net.fit(X_samples.T, labels, epochs=epochs, batch_size=batch, learning_rate=LEARNING_RATE)
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    hwm = _read_status_kib("VmHWM") * 1024
    s = np.dtype(dtype).itemsize
    n_params = net.n_parameters
    ws = net._workspaces.get("fit")
    result.update(
        can_reset_hwm=can_reset,
        rss_peak_minus_baseline=(hwm - base_rss) if can_reset else None,
        rss_fit_peak_minus_before_fit=(hwm - before_fit_rss) if can_reset else None,
        traced_before_fit=before_fit_traced,
        traced_fit_peak=traced_peak,
        params_bytes=n_params * s,
        grads_bytes=n_params * s,
        activations_bytes=sum(sizes) * batch * s,
        data_bytes=X_samples.nbytes + labels.nbytes,
        workspace_bytes=(sum(v.nbytes for v in ws.values() if isinstance(v, np.ndarray)) if ws else None),
    )
    print(json.dumps(result))


def fit_peak_memory(sizes, batch, dtype_name, examples, epochs=2):
    spec = dict(sizes=list(sizes), batch=batch, dtype=dtype_name, examples=examples, epochs=epochs)
    code = f"import json; from fnn_numba.bench import memory_child; memory_child(json.loads({json.dumps(spec)!r}))"
    return _run_child(code, _child_env())


def _median_per_call(fn, n):
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def kernel_profile(sizes, batch, dtype, repeats, sample_seconds=0.05, log=_log):
    """Where a training step's time goes: each kernel call of one step timed
    on its own at the step's sizes (median over ``repeats`` rounds, each
    round running every call for ~``sample_seconds``, calls and BLAS
    references interleaved), each GEMM-shaped call beside a NumPy ``matmul``
    (BLAS) of the same (n, K, m), and the whole step as ``fit`` runs it (one
    call of the jitted driver). Per-kernel times are calls from Python, so they
    include Numba's dispatch overhead (measured as ``dispatch_seconds``: a call
    of a kernel-free jitted function with four array arguments)."""
    import numba

    wl = KernelWorkload(sizes, batch, dtype)
    refs = wl.gemm_references()
    step = NetworkWorkload(sizes, batch, dtype, n_batches=1)
    noop = numba.njit(lambda a, b, c, d: None)
    noop(wl.a[0], wl.a[0], wl.a[0], wl.a[0])
    # BLAS first, the whole step last: OpenBLAS's threads spin for a while
    # after a call and slow down whatever runs next on the two cores
    items = [("blas", i, fn) for i, fn in refs.items()] + \
            [("dispatch", 0, lambda: noop(wl.a[0], wl.a[0], wl.a[0], wl.a[0]))] + \
            [("call", i, c[2]) for i, c in enumerate(wl.calls)] + \
            [("step", 0, step.train_step)]
    counts = []
    for _, _, fn in items:
        t = _time_once(fn)
        counts.append(max(1, int(sample_seconds / max(t, 1e-7))))
    samples = [[] for _ in items]
    for _ in range(repeats):
        for q, (_, _, fn) in enumerate(items):
            samples[q].append(_median_per_call(fn, counts[q]))
    med = [statistics.median(s) for s in samples]
    rows = []
    blas_time = {i: med[q] for q, (kind, i, _) in enumerate(items) if kind == "blas"}
    for q, (kind, i, _) in enumerate(items):
        if kind != "call":
            continue
        name, layer, _, flops, shape = wl.calls[i]
        row = dict(kernel=name, layer=layer, seconds=med[q], flops=flops, shape=shape)
        if flops:
            row["gflops"] = flops / med[q] / 1e9
            row["blas_seconds"] = blas_time[i]
            row["blas_gflops"] = flops / blas_time[i] / 1e9
        rows.append(row)
    step_seconds = med[[k for k, _, _ in items].index("step")]
    dispatch = med[[k for k, _, _ in items].index("dispatch")]
    log(f"  profile {'-'.join(map(str, sizes))} b{batch}: step {step_seconds * 1e6:,.0f} us, "
        f"sum of kernels {sum(r['seconds'] for r in rows) * 1e6:,.0f} us")
    return dict(rows=rows, step_seconds=step_seconds, dispatch_seconds=dispatch)


# --------------------------------------------------------------------------- report
def machine_info():
    """CPU model (``/proc/cpuinfo``), cores, and the versions of everything measured."""
    info = {"cpu": platform.processor() or platform.machine(), "cores": cpu_count(),
            "python": platform.python_version(), "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo") as fh:
            text = fh.read()
        fields = {}
        for line in text.splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
        info["cpu"] = fields.get("model name", info["cpu"])
        if "cpu family" in fields:
            info["cpu"] += f" (family {fields['cpu family']}, model {fields.get('model', '?')})"
        flags = fields.get("flags", "").split()
        simd = [f for f in ("avx2", "avx512f", "avx512bw", "avx512vl") if f in flags]
        if simd:
            info["simd"] = " ".join(simd)
    except OSError:
        pass
    import numba
    info["numpy"] = np.__version__
    info["numba"] = numba.__version__
    info["numba_threads"] = numba.get_num_threads()
    try:
        info["numba_threading_layer"] = numba.threading_layer()
    except ValueError:
        info["numba_threading_layer"] = "not yet chosen"
    try:
        import llvmlite.binding as llvm
        info["llvm_target"] = llvm.get_host_cpu_name()
    except Exception:  # pragma: no cover
        pass
    from . import __version__
    info["fnn_numba"] = __version__
    info["openblas_coretype_env"] = os.environ.get("OPENBLAS_CORETYPE", "(unset)")
    try:
        from threadpoolctl import threadpool_info
        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        info["blas"] = "; ".join(f"{p.get('internal_api')} {p.get('version')} "
                                 f"({p.get('architecture', '?')} kernels, {p.get('num_threads')} threads)"
                                 for p in blas)
    except ImportError:
        pass
    for mod, key in (("torch", "torch"), ("sklearn", "scikit-learn")):
        try:
            info[key] = __import__(mod).__version__
        except ImportError:
            info[key] = None
    if info.get("torch"):
        import torch
        info["torch_threads"] = torch.get_num_threads()
    return info


def load_average():
    """The 1-minute load average (Linux), or None."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _fmt_rate(x):
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def _fmt_bytes(b):
    if b is None:
        return "n/a"
    for unit, scale in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if abs(b) >= scale:
            return f"{b / scale:.1f} {unit}"
    return f"{b} B"


def _fmt_seconds(s):
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _ratio_rows(results, kind, order):
    rows = []
    for label, res in results:
        if "fnn_numba" not in res:
            continue
        fnn = statistics.median(res["fnn_numba"][kind])
        peers = {p: statistics.median(res[p][kind]) for p in order if p != "fnn_numba" and p in res}
        if peers:
            best = max(peers, key=peers.get)
            row = [label, f"**{fnn / peers[best]:.2f}** ({best})"]
        else:
            row = [label, "n/a"]
        row += [f"{fnn / peers[p]:.2f}" if p in peers else "n/a" for p in order if p != "fnn_numba"]
        rows.append(row)
    return rows


def _abs_rows(results, kind, order):
    rows = []
    for label, res in results:
        row = [label]
        for p in order:
            if p in res:
                v = res[p][kind]
                row.append(f"{_fmt_rate(statistics.median(v))} ({_fmt_rate(min(v))}-{_fmt_rate(max(v))})")
            else:
                row.append("n/a")
        rows.append(row)
    return rows


def render_report(dtype_name, results, skipped, memory, startup, profiles, info, command, repeats, seconds):
    """The markdown report. ``results``: [(shape label, {peer: figures})]."""
    order = [p for p in PEERS if any(p in res for _, res in results)]
    others = [p for p in order if p != "fnn_numba"]
    out = [f"## fnn_numba against its peers ({dtype_name}, CPU)", ""]
    out.append("Ratios of samples/s, fnn_numba / peer (above 1: fnn_numba is faster), "
               "from medians measured side by side in one run.")
    out.append("")
    out.append("**Training** (mini-batch SGD, relu hidden, softmax + categorical cross-entropy):")
    out.append("")
    out += _table(["shape (batch)", "vs best peer"] + [f"vs {p}" for p in others],
                  _ratio_rows(results, "train", order))
    out.append("")
    out.append("**Inference** (forward pass over the whole data set):")
    out.append("")
    out += _table(["shape (batch)", "vs best peer"] + [f"vs {p}" for p in others],
                  _ratio_rows(results, "infer", order))
    out.append("")
    out.append(f"Absolute training throughput, samples/s: median of {repeats} rounds (range):")
    out.append("")
    out += _table(["shape (batch)"] + order, _abs_rows(results, "train", order))
    out.append("")
    out.append("Absolute inference throughput, samples/s: median (range):")
    out.append("")
    out += _table(["shape (batch)"] + order, _abs_rows(results, "infer", order))
    out.append("")
    if skipped:
        out.append("Skipped peers: " + "; ".join(f"{p}: {why}" for p, why in sorted(skipped.items())))
        out.append("")
    if memory:
        out.append("**Peak memory of `Network.fit`** (fresh process, JIT warmed on a tiny network first). "
                   "RSS: the kernel's high-water mark VmHWM, reset at the baseline (before the data is "
                   "made) and again just before `fit`. tracemalloc: Python and NumPy allocations during "
                   "`fit` only. Minimum: parameters + gradients + one batch of activations (sum of n[l] "
                   "times the batch) + the data.")
        out.append("")
        rows = []
        for label, mem in memory:
            if "error" in mem:
                rows.append([label] + ["error: " + mem["error"]] + [""] * 6)
                continue
            ideal = mem["params_bytes"] + mem["grads_bytes"] + mem["activations_bytes"] + mem["data_bytes"]
            peak = mem["rss_peak_minus_baseline"]
            rows.append([label, _fmt_bytes(peak), _fmt_bytes(mem["rss_fit_peak_minus_before_fit"]),
                         _fmt_bytes(mem["traced_fit_peak"] - mem["traced_before_fit"]),
                         f"{_fmt_bytes(ideal)} = {_fmt_bytes(mem['params_bytes'])} + "
                         f"{_fmt_bytes(mem['grads_bytes'])} + {_fmt_bytes(mem['activations_bytes'])} + "
                         f"{_fmt_bytes(mem['data_bytes'])}",
                         f"{peak / ideal:.2f}" if peak is not None else "n/a",
                         _fmt_bytes(mem["workspace_bytes"])])
        out += _table(["shape (batch)", "RSS peak (data + net + fit)", "RSS rise during fit",
                       "tracemalloc rise during fit", "minimum (params + grads + activations + data)",
                       "RSS peak / minimum", "fit workspace"], rows)
        out.append("")
    if startup:
        out.append(f"**JIT start** (fresh process: `import fnn_numba`, then a first `fit` of one epoch "
                   f"(256 examples, {'-'.join(map(str, STARTUP_SIZES))}) and `forward`; cold: empty "
                   f"`NUMBA_CACHE_DIR`, every kernel compiled; warm: the same cache again). Median of "
                   f"{len(startup['cold'])} runs (range):")
        out.append("")
        rows = []
        for kind in ("cold", "warm"):
            runs = startup[kind]
            row = [kind]
            for key in ("import_seconds", "first_fit_seconds", "process_seconds"):
                v = [r[key] for r in runs]
                row.append(f"{statistics.median(v):.2f} s ({min(v):.2f}-{max(v):.2f})")
            rows.append(row)
        out += _table(["start", "import fnn_numba", "first fit + forward", "whole process"], rows)
        out.append("")
    if profiles:
        out.append("**Where a training step's time goes** (each kernel call timed alone from Python at the "
                   "step's sizes, median; GEMM-shaped kernels beside NumPy `matmul` (BLAS) of the same "
                   "(n, K, m) in the same run):")
        out.append("")
        for label, prof in profiles:
            out.append(f"{label}: one step through the jitted driver {_fmt_seconds(prof['step_seconds'])}; "
                       f"sum of the calls below {_fmt_seconds(sum(r['seconds'] for r in prof['rows']))} "
                       f"(each includes ~{_fmt_seconds(prof['dispatch_seconds'])} of dispatch from Python).")
            out.append("")
            total = sum(r["seconds"] for r in prof["rows"])
            rows = []
            for r in prof["rows"]:
                shape = "x".join(map(str, r["shape"])) if r["shape"] else ""
                rows.append([r["kernel"], r["layer"] or "all", shape, _fmt_seconds(r["seconds"]),
                             f"{100 * r['seconds'] / total:.1f}%",
                             f"{r['gflops']:.1f}" if "gflops" in r else "",
                             f"{r['blas_gflops']:.1f}" if "blas_gflops" in r else "",
                             f"{r['gflops'] / r['blas_gflops']:.2f}" if "gflops" in r else ""])
            out += _table(["kernel", "layer", "n x K x m", "time", "share", "GFLOP/s", "BLAS GFLOP/s",
                           "kernel / BLAS"], rows)
            out.append("")
    out.append("---")
    out.append(f"[1] Machine: {info['cpu']}, {info['cores']} cores"
               + (f" ({info['simd']})" if info.get("simd") else "") + f"; {info['platform']}; "
               f"LLVM target {info.get('llvm_target', '?')}.")
    out.append(f"[2] Versions: fnn_numba {info['fnn_numba']}, Python {info['python']}, NumPy {info['numpy']}, "
               f"Numba {info['numba']} ({info['numba_threads']} threads, {info['numba_threading_layer']} layer), "
               f"PyTorch {info.get('torch') or 'not installed'}"
               + (f" ({info['torch_threads']} threads)" if info.get("torch_threads") else "")
               + f", scikit-learn {info.get('scikit-learn') or 'not installed'}; BLAS: "
               f"{info.get('blas', '?')}; OPENBLAS_CORETYPE={info['openblas_coretype_env']}.")
    out.append(f"[3] Command: `{command}`; {repeats} rounds, each sample >= {seconds} s; "
               f"synthetic data (examples per shape above); learning rate {LEARNING_RATE}.")
    examples = {label: next(iter(res.values()))["examples"] for label, res in results if res}
    if examples:
        out.append("[4] Training set sizes: " + ", ".join(f"{k}: {v}" for k, v in examples.items()) + ".")
    if info.get("load_start") is not None:
        out.append(f"[5] 1-minute load average at the start / end of the run: {info['load_start']:.1f} / "
                   f"{info['load_end']:.1f} on {info['cores']} cores (a load above the core count means "
                   f"other processes competed for the CPU during the measurements).")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- command line
def add_cli_arguments(parser):
    """Add the options of the comparison to an argparse parser."""
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), metavar="SHAPE",
                        help="network shapes n0-n1-...-nL, optionally ':batch' "
                             f"(default: {' '.join(SHAPES)}, batches {', '.join(str(b) for _, b in SHAPES.values())})")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of measurements (median reported)")
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="time budget of one timed sample (whole epochs or forward passes)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--output", metavar="FILE.md", help="write the markdown report here (default: stdout)")
    parser.add_argument("--peers", nargs="+", default=list(PEERS), choices=PEERS, metavar="PEER",
                        help=f"libraries to measure (default: all of {', '.join(PEERS)})")
    parser.add_argument("--examples", type=int, default=None,
                        help=f"training examples per shape (default: max({MIN_EXAMPLES}, {MIN_BATCHES} batches))")
    parser.add_argument("--profile", action="store_true",
                        help="also time every kernel of a training step against BLAS")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    parser.add_argument("--startup-runs", type=int, default=3,
                        help="cold/warm JIT start measurements (0 to skip)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for every library (Numba, BLAS, PyTorch; default: the machine's cores)")
    return parser


def cli_main(args):
    """Run the comparison described by ``args`` (from :func:`add_cli_arguments`). Returns an exit code."""
    try:
        shapes = [parse_shape(s) for s in args.shapes]
    except ValueError as exc:
        print(f"fnn-numba bench: error: {exc}", file=sys.stderr)
        return 2
    if args.repeats < 1 or args.seconds <= 0 or (args.examples is not None and args.examples < 1) \
            or args.startup_runs < 0 or (args.threads is not None and args.threads < 1):
        print("fnn-numba bench: error: --repeats and --examples must be >= 1, --seconds > 0, "
              "--startup-runs >= 0, --threads >= 1", file=sys.stderr)
        return 2
    set_threads(args.threads or cpu_count())
    load_start = load_average()
    dtype = DTYPES[args.dtype]
    peers = ["fnn_numba"] + [p for p in args.peers if p != "fnn_numba"] if "fnn_numba" in args.peers \
        else list(args.peers)
    command = " ".join(shlex.quote(a) for a in [os.path.basename(sys.argv[0])] + sys.argv[1:])
    results, skipped, memory, profiles = [], {}, [], []
    for label, sizes, batch in shapes:
        nice = f"{label} ({batch})" if ":" not in label else label
        _log(f"{nice}: comparing {', '.join(peers)}")
        res, skip = compare_shape(sizes, batch, dtype, peers, args.repeats, args.seconds, args.examples)
        results.append((nice, res))
        skipped.update(skip)
        if not args.no_memory and "fnn_numba" in peers:
            m = args.examples or default_examples(batch)
            try:
                memory.append((nice, fit_peak_memory(sizes, batch, args.dtype, m)))
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                memory.append((nice, {"error": str(exc).splitlines()[0]}))
    if args.profile:
        # after every throughput measurement, so that the rounds of all shapes
        # run back to back, without the profile's BLAS calls in between
        for label, sizes, batch in shapes:
            nice = f"{label} ({batch})" if ":" not in label else label
            profiles.append((nice, kernel_profile(sizes, batch, dtype, args.repeats)))
    startup = jit_start_times(args.dtype, args.startup_runs) if args.startup_runs else None
    info = machine_info()
    info["load_start"], info["load_end"] = load_start, load_average()
    report = render_report(args.dtype, results, skipped, memory, startup, profiles, info, command,
                           args.repeats, args.seconds)
    if args.output:
        with open(args.output, "w") as fh:
            fh.write(report)
        _log(f"report written to {args.output}")
    else:
        sys.stdout.write(report)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fnn-numba bench", description=__doc__.split("\n\n")[0])
    add_cli_arguments(parser)
    return cli_main(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
