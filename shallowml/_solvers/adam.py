"""Mini-batch Adam (Kingma & Ba, "Adam: a method for stochastic optimization", ICLR 2015).

The solver only sees ``fun(x, batch_indices) -> (loss, grad)``: what the
indices select (pairs, samples) is the caller's business. Randomness comes
from an explicit ``RandomState``; the optimiser state can be kept between
calls (``partial_fit``).
"""

from dataclasses import dataclass

import numpy as np

from .progress import ProgressTable
from .result import STOPPED_BY_CALLBACK, SolverResult


class DivergenceError(FloatingPointError, ValueError):
    """The optimisation diverged (non-finite or exploding loss or parameters).

    A subclass of both ``FloatingPointError`` and ``ValueError``; the message
    suggests a smaller learning rate.
    """


@dataclass
class AdamState:
    """First and second moment estimates and the step counter of Adam."""

    m: np.ndarray
    v: np.ndarray
    t: int = 0

    @classmethod
    def zeros_like(cls, x):
        return cls(np.zeros_like(x, dtype=np.float64), np.zeros_like(x, dtype=np.float64), 0)


def _diverged(learning_rate, epoch, what):
    return DivergenceError(
        f"Adam diverged at epoch {epoch}: {what}. The learning rate is too large for this "
        f"problem; lower learning_rate (currently {learning_rate:g}), e.g. by a factor of 10."
    )


def minimize_adam(fun, x0, n_items, *, random_state, batch_size=64, max_iter=100,
                  learning_rate=1e-2, beta1=0.9, beta2=0.999, epsilon=1e-8, tol=1e-4,
                  n_iter_no_change=10, val_fun=None, state=None, divergence_factor=1e6,
                  verbose=0, name="Adam", callback=None, batches=None, schedule="constant"):
    """Minimise an average loss over ``n_items`` with mini-batch Adam.

    Each epoch visits the items in a fresh random order, in batches of
    ``batch_size``. After every epoch the monitored loss is the validation
    loss ``val_fun(x)`` when given (early stopping; the best parameters are
    returned, the starting point ``x0`` included: a run that never improves
    the validation loss returns ``x0``), else the mean training loss of the
    epoch. The run converges
    when the monitored loss has not decreased by at least ``tol`` for
    ``n_iter_no_change`` consecutive epochs.

    Parameters
    ----------
    fun : callable
        ``fun(x, idx) -> (loss, grad)`` for the items ``idx`` (int array).
    x0 : ndarray
        Starting parameters (not modified).
    n_items : int
        Number of items to sample batches from (> 0).
    random_state : numpy.random.RandomState
        Source of the epoch permutations.
    batch_size : int, default=64
    max_iter : int, default=100
        Maximum number of epochs.
    learning_rate, beta1, beta2, epsilon : float
        Adam's step size and moment parameters.
    tol : float, default=1e-4
        Minimum absolute decrease of the monitored loss that counts as an
        improvement.
    n_iter_no_change : int, default=10
        Patience, in epochs.
    val_fun : callable, default=None
        ``val_fun(x) -> loss`` on held-out data (early stopping).
    state : AdamState, default=None
        Moment estimates to continue from (updated in place); fresh if None.
    divergence_factor : float, default=1e6
        A batch loss above ``divergence_factor * max(first_loss, 1)`` counts
        as divergence (losses here are on unit-free, rescaled data).
    verbose : int, default=0
        When > 0, print a row per epoch (training loss, validation loss, time;
        ``ProgressTable``) and the training time.
    name : str
        Prefix of the verbose lines.
    callback : callable, default=None
        Called as ``callback(x, epoch)`` after each epoch; returning True
        stops the run (``stopped=True``, the parameters so far are kept).
    batches : callable, default=None
        ``batches(random_state) -> list of int arrays``: the mini-batches of
        one epoch (e.g. :func:`shallowml.constraints.class_balanced_batches`);
        default: a random permutation of the items cut into ``batch_size``.
    schedule : {'constant', 'cosine'}, default='constant'
        Step size over the run. 'constant': ``learning_rate`` at every step.
        'cosine': ``learning_rate * (1 + cos(pi * s)) / 2`` with ``s`` the
        fraction of the ``max_iter`` epochs done before the step (one value
        per mini-batch, ``s = (epoch - 1 + b / n_batches) / max_iter``), so
        the step shrinks smoothly from ``learning_rate`` towards 0 at the
        last epoch: late steps average out the mini-batch noise instead of
        leaving the iterate wherever the last noisy steps put it
        (Loshchilov & Hutter, "SGDR: stochastic gradient descent with warm
        restarts", ICLR 2017, without the restarts).

    Returns
    -------
    SolverResult
        ``n_iter`` is the number of epochs; ``history`` the monitored loss
        per epoch.

    Raises
    ------
    DivergenceError
        When a loss, gradient or parameter becomes non-finite or the loss
        explodes. Nothing is returned, so callers never store NaN parameters.
    """
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}.")
    x = np.array(x0, dtype=np.float64, copy=True)
    if state is None:
        state = AdamState.zeros_like(x)
    rng = random_state
    batch_size = max(1, min(int(batch_size), int(n_items)))
    history = []
    best, best_x, stall = np.inf, x.copy(), 0
    reference = None
    converged = False
    message = f"reached max_iter={max_iter} epochs"
    stopped = False
    columns = [("Epoch", 10, "d"), ("Training Loss", 20, ".6e")]
    if val_fun is not None:
        columns.append(("Validation Loss", 20, ".6e"))
    table = ProgressTable(name, columns, enabled=verbose)
    table.start()
    if val_fun is not None:
        best = float(val_fun(x))
        if not np.isfinite(best):
            best = np.inf
    epoch = 0
    for epoch in range(1, max_iter + 1):
        if batches is None:
            order = rng.permutation(n_items)
            epoch_batches = [order[start : start + batch_size] for start in range(0, n_items, batch_size)]
        else:
            epoch_batches = batches(rng)
        total = 0.0
        seen = 0
        n_batches = len(epoch_batches)
        for b, idx in enumerate(epoch_batches):
            seen += idx.size
            step = learning_rate
            if schedule == "cosine":
                done = (epoch - 1 + b / max(n_batches, 1)) / max_iter
                step = learning_rate * 0.5 * (1.0 + np.cos(np.pi * done))
            loss, grad = fun(x, idx)
            if not np.isfinite(loss) or not np.all(np.isfinite(grad)):
                raise _diverged(learning_rate, epoch, "the loss or its gradient is NaN or infinite")
            if reference is None:
                reference = max(abs(loss), 1.0)
            elif loss > divergence_factor * reference:
                raise _diverged(
                    learning_rate, epoch, f"the loss exploded to {loss:.3g} (first batch: {reference:.3g})"
                )
            total += loss * idx.size
            state.t += 1
            state.m *= beta1
            state.m += (1.0 - beta1) * grad
            state.v *= beta2
            state.v += (1.0 - beta2) * grad * grad
            m_hat = state.m / (1.0 - beta1**state.t)
            v_hat = state.v / (1.0 - beta2**state.t)
            x -= step * m_hat / (np.sqrt(v_hat) + epsilon)
            if not np.all(np.isfinite(x)):
                raise _diverged(learning_rate, epoch, "the parameters became NaN or infinite")
        train_loss = total / max(seen, 1)
        monitored = train_loss
        val_loss = None
        if val_fun is not None:
            val_loss = float(val_fun(x))
            if not np.isfinite(val_loss):
                raise _diverged(learning_rate, epoch, "the validation loss is NaN or infinite")
            monitored = val_loss
        history.append(monitored)
        table.row(epoch, train_loss, *(() if val_loss is None else (val_loss,)))
        if monitored < best - tol:
            stall = 0
        else:
            stall += 1
        if monitored < best:
            best = monitored
            if val_fun is not None:
                best_x = x.copy()
        if callback is not None and callback(x, epoch):
            message, stopped = STOPPED_BY_CALLBACK, True
            break
        if stall >= n_iter_no_change:
            converged = True
            message = (
                f"monitored loss did not improve by tol={tol:g} for {n_iter_no_change} epochs"
            )
            break
    if val_fun is not None:
        x = best_x
    table.finish()
    return SolverResult(
        x=x, fun=float(best if val_fun is not None else history[-1] if history else np.nan),
        n_iter=epoch, converged=converged, message=message, history=history, stopped=stopped,
    )
