"""Two Python threads calling forward/predict on one network and fit on two
networks at the same time; prints OK and the threading layer when every result
equals the one computed alone."""

import threading

import numpy as np

import fnn_numba as fnn
from fnn_numba._threading import threading_layer

rng = np.random.default_rng(0)
X = rng.standard_normal((128, 1024))
y = rng.integers(0, 10, 1024)
shared = fnn.Network([128, 256, 10], seed=1)
expected_forward = shared.forward(X)
expected_predict = shared.predict(X)


def trained(seed):
    net = fnn.Network([128, 256, 10], seed=seed)
    net.fit(X, y, epochs=2, batch_size=256, learning_rate=0.05)
    return net.get_parameters()


expected_fit = {s: trained(s) for s in (5, 6)}
errors = []


def check(name, got, want):
    if not np.array_equal(got, want):
        errors.append(name)


def forward_worker():
    for _ in range(5):
        check("forward", shared.forward(X), expected_forward)
        check("predict", shared.predict(X), expected_predict)


def fit_worker(seed):
    check(f"fit{seed}", trained(seed), expected_fit[seed])


threads = [threading.Thread(target=forward_worker) for _ in range(2)]
threads += [threading.Thread(target=fit_worker, args=(s,)) for s in (5, 6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("OK" if not errors else f"MISMATCH {errors}", threading_layer())
