"""The ``fnn-numba`` command line (also ``python -m fnn_numba``)."""
import argparse
import sys
import time

import numpy as np


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr and exit code 2, never a traceback."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _train(args):
    from . import datasets
    from .network import Network

    dtype = {"float32": np.float32, "float64": np.float64}[args.dtype]
    Xtr, ytr, Xte, yte, n_classes = datasets.load(args.dataset, seed=args.seed, dtype=dtype)
    sizes = [Xtr.shape[0]] + list(args.hidden) + [n_classes]
    activations = [args.activation] * len(args.hidden) + ["softmax"]
    net = Network(sizes, activations, "categorical_cross_entropy", init=args.init, dtype=dtype,
                  seed=args.seed, l2=args.l2)
    print(f"{args.dataset}: {Xtr.shape[1]} training and {Xte.shape[1]} test examples; {net}")
    t0 = time.perf_counter()
    net.fit(Xtr, ytr, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
            validation_data=(Xte, yte), verbose=True)
    seconds = time.perf_counter() - t0
    accuracy = float(np.mean(net.predict(Xte) == yte))
    print(f"test accuracy {accuracy:.4f} after {args.epochs} epochs in {seconds:.2f} s "
          f"(including JIT compilation on a cold cache)")
    if args.output:
        net.save(args.output)
        print(f"model written to {args.output}")
    return 0


def build_parser():
    from .activations import ACTIVATIONS
    from .datasets import LOADERS

    parser = _Parser(prog="fnn-numba", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("train", help="train a classifier on a bundled data set")
    p.add_argument("--dataset", choices=LOADERS, default="digits")
    p.add_argument("--hidden", type=int, nargs="*", default=[64], help="hidden layer sizes")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu")
    p.add_argument("--init", default="auto", choices=["auto", "zeros", "normal", "xavier", "he"])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=0.1)
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", help="save the trained model to this .npz path")
    p.set_defaults(func=_train)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError) as exc:
        print(f"fnn-numba {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
