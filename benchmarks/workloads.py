"""The workloads that the asv suite and the comparison script time.

Every network is the same for every library: relu hidden layers, a softmax
output, categorical cross-entropy, He initialisation, plain mini-batch SGD
(no momentum, no L2), examples shuffled every epoch, synthetic data (standard
normal inputs, uniformly drawn labels). :data:`SHAPES` are the four networks
of the comparison, each with its batch size.

- :class:`KernelWorkload`: the arrays of one training step, so that each
  kernel of ``fnn_numba.kernels`` can be timed on its own at a step's sizes
  (``bench_kernels.py``, the per-kernel profile of ``compare.py``);
- :class:`NetworkWorkload`: a ``Network`` with synthetic data, for one
  training step, an epoch of ``fit`` and inference (``bench_network.py``).
"""

import numpy as np

#: name -> (layer sizes [n0, ..., nL], mini-batch size)
SHAPES = {
    "64-32-10": ((64, 32, 10), 32),
    "784-128-10": ((784, 128, 10), 64),
    "784-512-512-10": ((784, 512, 512, 10), 256),
    "2048-2048-2048-10": ((2048, 2048, 2048, 10), 1024),
}
DTYPES = {"float32": np.float32, "float64": np.float64}
LEARNING_RATE = 0.01
#: examples in the synthetic training set: at least this many, and at least
#: ``MIN_BATCHES`` mini-batches
MIN_EXAMPLES = 8192
MIN_BATCHES = 8
#: the tiny twin that warms the JIT up (two hidden layers: every kernel of a step runs)
TINY_SIZES = (6, 5, 4, 3)


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
        raise ValueError(
            f"shape: expected sizes joined by '-' with an optional ':batch' "
            f"(such as 784-128-10:64), got {text!r}"
        ) from None
    if len(sizes) < 2 or min(sizes) < 1 or b < 1:
        raise ValueError(
            f"shape: expected at least two positive sizes and a positive batch, got {text!r}"
        )
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
    weights = [
        (rng.standard_normal((sizes[l + 1], sizes[l])) * np.sqrt(2.0 / sizes[l])).astype(dtype)
        for l in range(len(sizes) - 1)
    ]
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
        from fnn_numba import kernels
        from fnn_numba.activations import RELU, SOFTMAX
        from fnn_numba.costs import CATEGORICAL_CROSS_ENTROPY

        self.sizes, self.batch, self.dtype = list(sizes), int(batch), np.dtype(dtype).type
        L, m = len(sizes) - 1, self.batch
        rng = np.random.default_rng(seed)

        def f_mat(n, cols):
            return np.asfortranarray(
                rng.standard_normal((n, cols), dtype=np.float32).astype(self.dtype)
            )

        self.w, self.b = he_weights(sizes, self.dtype, seed)
        self.dw = [np.full_like(w, 0) for w in self.w]
        self.db = [np.zeros_like(b) for b in self.b]
        self.a = [f_mat(n, m) for n in sizes]  # a[0] is the input batch
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
            calls.append(
                (
                    "z_forward",
                    l,
                    self._bind(
                        kernels.z_forward, self.w[l - 1], self.b[l - 1], self.a[l - 1], self.z[l]
                    ),
                    gemm_flops(n, k, m),
                    (n, k, m),
                )
            )
            calls.append(
                (
                    "activation_forward",
                    l,
                    self._bind(kernels.activation_forward, codes[l - 1], self.z[l], self.a[l]),
                    0.0,
                    None,
                )
            )
        calls.append(
            (
                "example_losses",
                L,
                self._cost_call(kernels, codes[-1], CATEGORICAL_CROSS_ENTROPY),
                0.0,
                None,
            )
        )
        calls.append(
            (
                "output_delta_fused",
                L,
                self._bind(kernels.output_delta_fused, codes[-1], self.a[L], self.y, self.dz[L]),
                0.0,
                None,
            )
        )
        for l in range(L, 0, -1):
            n, k = sizes[l], sizes[l - 1]
            if l < L:
                calls.append(
                    (
                        "dz_backward",
                        l,
                        self._bind(
                            kernels.dz_backward,
                            codes[l - 1],
                            self.z[l],
                            self.a[l],
                            self.da[l],
                            self.dz[l],
                        ),
                        0.0,
                        None,
                    )
                )
            calls.append(
                (
                    "dw_db_backward",
                    l,
                    self._bind(
                        kernels.dw_db_backward,
                        self.dz[l],
                        self.a[l - 1],
                        self.w[l - 1],
                        zero_l2,
                        self.dw[l - 1],
                        self.db[l - 1],
                        self.dz_rows[l],
                        self.a_rows[l - 1],
                    ),
                    gemm_flops(n, k, m),
                    (n, k, m),
                )
            )
            if l > 1:
                calls.append(
                    (
                        "da_prev_backward",
                        l,
                        self._bind(
                            kernels.da_prev_backward, self.w[l - 1], self.dz[l], self.da[l - 1]
                        ),
                        gemm_flops(n, k, m),
                        (k, n, m),
                    )
                )
        calls.append(("update", 0, self._update_call(kernels), 0.0, None))
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

    def _cost_call(self, kernels, out_code, cost_code):
        L = len(self.sizes) - 1

        def call():
            kernels.example_losses(
                cost_code, out_code, True, self.z[L], self.a[L], self.y, self.losses
            )
            return kernels.mean_of(self.losses)

        return call

    def _update_call(self, kernels):
        """Plain SGD as the training driver applies it without clipping: the
        finiteness check of the new parameters, then the update in place
        (``kernels.sgd_update_is_finite``, ``kernels.sgd_update``)."""

        def call():
            if kernels.sgd_update_is_finite(self.params, self.grads, LEARNING_RATE):
                kernels.sgd_update(self.params, self.grads, LEARNING_RATE)

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
        from fnn_numba.network import Network

        self.sizes, self.batch, self.dtype = list(sizes), int(batch), np.dtype(dtype).type
        L = len(sizes) - 1
        self.net = Network(
            self.sizes,
            activations=["relu"] * (L - 1) + ["softmax"],
            cost="categorical_cross_entropy",
            init="he",
            dtype=self.dtype,
            seed=seed,
        )
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
        return self.net.fit(
            self.X,
            self.labels,
            epochs=epochs,
            batch_size=self.batch,
            learning_rate=LEARNING_RATE,
            progress=False,
        )

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
        from fnn_numba import engine

        driver = engine.train_batches
        calls = []

        def recorder(*args, **kwargs):
            calls.append((args, kwargs))
            return -1  # "every batch ran"

        engine.train_batches = recorder
        try:
            self.net.fit(
                np.asfortranarray(self.X[:, : self.batch]),
                self.labels[: self.batch],
                epochs=1,
                batch_size=self.batch,
                learning_rate=LEARNING_RATE,
                shuffle=False,
                progress=False,
            )
        finally:
            engine.train_batches = driver
        if len(calls) != 1:
            raise RuntimeError(
                f"expected fit to call engine.train_batches once for one batch, got {len(calls)}"
            )
        return (driver,) + calls[0]
