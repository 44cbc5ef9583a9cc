"""A per-epoch progress bar for :meth:`fnn_numba.Network.fit`.

tqdm is an optional dependency (``pip install "fnn-numba[progress]"``); it is
imported only when a bar is actually shown, so importing this module never
needs it.
"""

import sys

__all__ = ["EpochProgress"]


def _tqdm_class():
    """tqdm's bar class, or None when tqdm is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class EpochProgress:
    """A bar that advances once per epoch and shows the latest figures.

    Parameters
    ----------
    total_epochs : int
        Epochs the bar counts to (early stopping may close it before).
    enabled : bool or None
        True: show the bar (ImportError when tqdm is missing). False: do
        nothing. None: show it only when ``sys.stderr`` is a terminal and tqdm
        is installed, so that logs and CI output stay free of control
        characters.
    file : file-like, optional
        Where the bar is written; default ``sys.stderr``.
    **tqdm_options
        Passed to ``tqdm.tqdm`` (``mininterval``, ``ncols``, ``desc``, ...).

    Attributes
    ----------
    enabled : bool
        Whether a bar is shown; :meth:`update` and :meth:`close` do nothing
        when it is False.

    Examples
    --------
    >>> from fnn_numba import History
    >>> bar = EpochProgress(3, enabled=False)   # True draws with tqdm
    >>> bar.update(1, History(cost=[0.5]))
    >>> bar.close()
    """

    def __init__(self, total_epochs, enabled=None, file=None, **tqdm_options):
        if isinstance(total_epochs, bool) or not isinstance(total_epochs, int) or total_epochs < 1:
            raise ValueError(f"total_epochs: expected a positive integer, got {total_epochs!r}")
        if enabled is not None:
            # bool or numpy.bool_ only: 1 or "yes" would be a typo, not a wish
            if type(enabled).__name__ not in ("bool", "bool_"):
                raise TypeError(
                    f"progress (enabled): expected True, False or None, got {enabled!r}"
                )
            enabled = bool(enabled)
        tqdm = _tqdm_class() if enabled is not False else None
        if enabled is True and tqdm is None:
            raise ImportError(
                "progress=True needs tqdm, which is not installed: "
                'pip install "fnn-numba[progress]" (or pip install tqdm)'
            )
        stream = sys.stderr if file is None else file
        if enabled is None:
            isatty = getattr(sys.stderr, "isatty", None)
            enabled = tqdm is not None and callable(isatty) and bool(isatty())
        self.enabled = bool(enabled)
        self.total = total_epochs
        self._bar = None
        if self.enabled:
            options = dict(
                total=total_epochs,
                unit="epoch",
                desc="fit",
                file=stream,
                dynamic_ncols=True,
                leave=True,
            )
            options.update(tqdm_options)
            self._bar = tqdm(**options)

    def update(self, epoch, history):
        """Move the bar to ``epoch`` (1-based, epochs completed so far) and
        show the last cost, validation cost and validation accuracy of
        ``history`` (a :class:`fnn_numba.History` or anything with those lists
        as attributes)."""
        if self._bar is None:
            return
        self._bar.set_postfix_str(_postfix(history), refresh=False)
        # the bar counts epochs completed; ``epoch`` is absolute, so a call
        # that skips epochs still lands on the right count
        self._bar.update(max(0, epoch - self._bar.n))

    def close(self):
        """Finish the bar (idempotent)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _postfix(history):
    parts = []
    for label, name, fmt in (
        ("cost", "cost", ".4g"),
        ("val_cost", "val_cost", ".4g"),
        ("val_acc", "val_accuracy", ".4f"),
    ):
        values = getattr(history, name, None)
        if values:
            value = values[-1]
            # accuracy is NaN for regression costs: say nothing rather than "nan"
            if value == value:
                parts.append(f"{label}={value:{fmt}}")
    return ", ".join(parts)
