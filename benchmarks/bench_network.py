"""asv: a training step, an epoch of ``Network.fit``, inference.

The network is ``workloads.NetworkWorkload``: relu hidden
layers, softmax output, categorical cross-entropy, He initialisation, plain
SGD (learning rate 0.01), on 4 mini-batches of synthetic data (small, so
that the suite stays quick; the comparison script uses larger data sets).
"""

from .workloads import DTYPES, SHAPES, NetworkWorkload

#: calls per timed sample (small shapes take microseconds per step)
NUMBER = {"64-32-10": 20, "784-128-10": 5, "784-512-512-10": 1, "2048-2048-2048-10": 1}

_workloads = {}


def workload(shape, dtype):
    key = (shape, dtype)
    if key not in _workloads:
        _workloads.clear()
        sizes, batch = SHAPES[shape]
        _workloads[key] = NetworkWorkload(sizes, batch, DTYPES[dtype], n_batches=4)
    return _workloads[key]


class Network:
    """Training and inference per shape (batch in
    ``workloads.SHAPES``) and dtype."""

    params = (list(SHAPES), list(DTYPES))
    param_names = ["shape", "dtype"]

    def setup(self, shape, dtype):
        self.wl = workload(shape, dtype)
        self.number = NUMBER[shape]

    def time_train_step(self, shape, dtype):
        """One mini-batch: gather, forward, cost, backward, update (the
        jitted driver ``fit`` calls, without ``fit``'s checks)."""
        self.wl.train_step()

    def peakmem_train_step(self, shape, dtype):
        self.wl.train_step()

    def time_epoch(self, shape, dtype):
        """``Network.fit(X, y, epochs=1)`` over 4 mini-batches."""
        self.wl.epoch()

    def peakmem_epoch(self, shape, dtype):
        self.wl.epoch()

    def time_forward(self, shape, dtype):
        """``Network.forward`` on 4 batches' worth of examples."""
        self.wl.forward()

    def peakmem_forward(self, shape, dtype):
        self.wl.forward()
