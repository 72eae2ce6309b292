"""Train / validation / test splits of interaction data.

- :func:`leave_one_out`: each user's last item (in time order, consecutive repeats collapsed)
  is the test target, the one before it the validation target, the rest is training. The
  protocol of SASRec / S3-Rec and the published full-ranking tables.
- :func:`temporal_split`: one global cut in time; every item a user touches after the cut
  is a target (several per user).

Models train on ``train``; validation scores them with ``train`` as input histories, test
with ``train_full`` (training + validation events) as input, so the test input includes the
validation item, as in the papers.

Example::

    >>> split = leave_one_out(data)                        # doctest: +SKIP
    >>> split.test_targets.nnz                             # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.features.interactions import InteractionData


@dataclass(frozen=True)
class Split:
    """Training data plus held-out targets: CSR ``(n_users, n_items)``, 1 where held out."""

    train: InteractionData
    train_full: InteractionData
    valid_targets: sp.csr_matrix
    test_targets: sp.csr_matrix
    protocol: str

    def users(self, stage: str) -> npt.NDArray[np.int64]:
        targets = self.valid_targets if stage == "valid" else self.test_targets
        return np.flatnonzero(np.diff(targets.indptr) > 0).astype(np.int64)


def _targets(
    users: npt.NDArray[np.int64], items: npt.NDArray[np.int64], shape: tuple[int, int]
) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(users.size, np.float32), (users, items)), shape=shape)
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def leave_one_out(data: InteractionData, min_length: int = 3) -> Split:
    """Hold out each user's last step (test) and the one before (validation).

    Users with fewer than ``min_length`` steps stay entirely in training.
    """
    lengths = data.sequence_lengths
    eligible = lengths >= min_length
    length_of_row = lengths[data.log_user]
    position = data.log_position
    held = eligible[data.log_user]
    train = data.subset(~held | (position < length_of_row - 2))
    train_full = data.subset(~held | (position < length_of_row - 1))
    users = np.flatnonzero(eligible).astype(np.int64)
    last = np.array([data.sequence(int(u))[-1] for u in users], dtype=np.int64)
    before = np.array([data.sequence(int(u))[-2] for u in users], dtype=np.int64)
    shape = (data.n_users, data.n_items)
    return Split(
        train=train,
        train_full=train_full,
        valid_targets=_targets(users, before, shape),
        test_targets=_targets(users, last, shape),
        protocol="leave-one-out",
    )


def next_event(data: InteractionData, min_events: int = 3) -> Split:
    """Hold out each user's last event (test) and the one before it (validation), repeats
    included: unlike :func:`leave_one_out`, a shopper who looks at the same product again
    makes that product the target (re-consumption counts).

    Users with fewer than ``min_events`` events stay entirely in training.
    """
    users = data.log_user
    counts = np.bincount(users, minlength=data.n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(users.size) - starts[users]  # the log is sorted by (user, time)
    from_end = counts[users] - rank  # 1 = the user's last event
    held = counts[users] >= min_events
    train = data.subset(~held | (from_end > 2))
    train_full = data.subset(~held | (from_end > 1))
    eligible = np.flatnonzero(counts >= min_events).astype(np.int64)
    last = data.log_item[starts[eligible] + counts[eligible] - 1]
    before = data.log_item[starts[eligible] + counts[eligible] - 2]
    shape = (data.n_users, data.n_items)
    return Split(
        train=train,
        train_full=train_full,
        valid_targets=_targets(eligible, before, shape),
        test_targets=_targets(eligible, last, shape),
        protocol="next-event",
    )


def temporal_split(
    data: InteractionData, valid_fraction: float = 0.1, test_fraction: float = 0.1
) -> Split:
    """Cut the log at two global times (quantiles of event time).

    Targets are the items a user first touches in the window (items already in the user's
    input history are not targets, since the ranking excludes them).
    """
    if data.n_events == 0:
        raise ValueError("no interactions to split")
    t_valid, t_test = np.quantile(
        data.log_time, [1 - valid_fraction - test_fraction, 1 - test_fraction]
    )
    train = data.subset(data.log_time < t_valid)
    train_full = data.subset(data.log_time < t_test)
    shape = (data.n_users, data.n_items)

    def window(lo: float, hi: float, known: InteractionData) -> sp.csr_matrix:
        inside = (data.log_time >= lo) & (data.log_time < hi)
        targets = _targets(data.log_user[inside], data.log_item[inside], shape)
        seen = (known.matrix > 0).astype(np.float32)
        fresh = targets - targets.multiply(seen)
        fresh.eliminate_zeros()
        return fresh.tocsr()

    end = float(data.log_time.max()) + 1
    return Split(
        train=train,
        train_full=train_full,
        valid_targets=window(t_valid, t_test, train),
        test_targets=window(t_test, end, train_full),
        protocol="temporal",
    )
