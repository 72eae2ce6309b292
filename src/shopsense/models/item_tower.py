"""The item tower: ``v_j = W2·σ(W1·x_j + b1) + b2`` from product features, in PyTorch.

``x_j`` is the product's feature row (:mod:`shopsense.features.item_features`: MiniLM text
embedding plus multi-hot category levels, brand, attributes, price bucket). Every item's
vector comes from its features alone, so a brand-new product with no events is scored
like any other from day zero (:meth:`ItemTower.add_items`). Without catalog features the
model falls back to one token per item (a learned id embedding), which cannot help new items.

Two ways to train it (``objective``), both by gradient descent so that ``u·v_j`` ranks well:

- ``"softmax"`` (end to end): a shopper is the weighted mean of their items' tower vectors
  through a learned ``(factors, factors)`` map; trained with full-softmax cross-entropy over
  the items that have interactions, each positive predicted from the user's *other* items.
  Fresh histories need no fold-in: the same pooling scores them.
- ``"als"``: fit ALS (implicit) first, then regress its item factors from features (MSE,
  early stopping on held-out items). Users are ALS user factors; fresh histories are
  folded in against the tower's vectors.

The output layer is linear (the seed's outer σ would confine ``v_j`` to ``(0, 1)^d``,
which cannot match signed user factors); ``activation`` is the inner σ.

Example::

    >>> space, x = catalog_features(products, data.items.to_list(), TextEncoder())  # doctest: +SKIP
    >>> model = ItemTower(factors=64).with_item_features(x, space).fit(data)       # doctest: +SKIP
    >>> model.add_items([new_product])      # recommendable at once, no retraining  # doctest: +SKIP
    >>> model.recommend("U0001", n=10)                                             # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense import progress
from shopsense.domain import Product
from shopsense.errors import ModelError
from shopsense.features.idmap import IdMap
from shopsense.features.interactions import InteractionData
from shopsense.features.item_features import ItemFeatures, ItemFeatureSpace
from shopsense.models.base import FloatArray, Histories, IntArray, Recommender, fold_in

if TYPE_CHECKING:
    from torch import Tensor, nn

    from shopsense.features.text import TextEncoder

log = logging.getLogger(__name__)
OBJECTIVES = ("softmax", "als")
ACTIVATIONS = ("sigmoid", "relu", "gelu")


@dataclasses.dataclass(eq=False)
class ItemTower(Recommender):
    """Feature-to-vector MLP for items; users pool item vectors or come from ALS."""

    name: ClassVar[str] = "item_tower"

    factors: int = 64
    hidden: int = 256
    objective: str = "softmax"
    #: The inner σ: "sigmoid" (the seed's), "relu" or "gelu".
    activation: str = "gelu"
    dropout: float = 0.1
    learning_rate: float = 2e-3
    weight_decay: float = 0.0
    #: ``objective="softmax"``: (user, item) pairs per step and passes over them.
    batch_size: int = 1024
    epochs: int = 10
    #: ``objective="als"``: items per step, upper bound on epochs, and the share of items
    #: held out to stop the regression early (after ``patience`` epochs without progress).
    regression_batch_size: int = 256
    regression_epochs: int = 300
    valid_fraction: float = 0.1
    patience: int = 10
    #: ``objective="als"``: items with events keep their ALS factors (warm accuracy of
    #: ALS); only items without events get the tower's vectors.
    keep_als_factors: bool = False
    als_regularization: float = 0.05
    als_alpha: float = 2.0
    als_iterations: int = 15
    #: The text encoder of the features' embeddings ("minilm" or "static"): new products
    #: are embedded with the same one.
    text_encoder: str = "minilm"
    random_state: int = 42
    num_threads: int = 2

    features_: ItemFeatures | None = dataclasses.field(init=False, repr=False, default=None)
    feature_space_: ItemFeatureSpace | None = dataclasses.field(
        init=False, repr=False, default=None
    )
    net_: nn.ModuleDict = dataclasses.field(init=False, repr=False)
    #: ``(n_items, factors)``: every item's tower output, row ``j`` is item index ``j``.
    item_vectors_: FloatArray = dataclasses.field(init=False, repr=False)
    #: softmax: ``(factors, factors)`` pooled-history -> user map; als: ``(n_users, factors)``.
    user_map_: FloatArray = dataclasses.field(init=False, repr=False)
    user_factors_: FloatArray = dataclasses.field(init=False, repr=False)
    #: True when trained without catalog features (one id token per item).
    identity_: bool = dataclasses.field(init=False, repr=False, default=False)
    warm_factors_: FloatArray | None = dataclasses.field(init=False, repr=False, default=None)
    gram_: npt.NDArray[np.float64] | None = dataclasses.field(init=False, repr=False, default=None)

    def half_precision_state(self) -> frozenset[str]:
        return frozenset({"item_vectors_", "user_map_", "user_factors_"})

    def with_item_features(
        self, features: ItemFeatures | None, space: ItemFeatureSpace | None = None
    ) -> Self:
        """Use ``features`` (rows in the fit data's item order) as ``x_j``; call before ``fit``.

        ``space`` (the vocabulary that built them) lets :meth:`add_items` featurise new
        products later. ``None`` features: one learned id embedding per item.
        """
        self.features_, self.feature_space_ = features, space
        return self

    # --- training ---------------------------------------------------------------------
    def _fit(self, data: InteractionData) -> None:
        import torch

        from shopsense.models._torch import torch_threads

        if self.objective not in OBJECTIVES:
            raise ModelError(f"item_tower objective must be one of {OBJECTIVES}")
        if self.activation not in ACTIVATIONS:
            raise ModelError(f"item_tower activation must be one of {ACTIVATIONS}")
        features = self.features_
        self.identity_ = features is None
        if features is None:
            features = ItemFeatures.identity(data.n_items)
            self.feature_space_ = None
        elif len(features) != data.n_items:
            raise ModelError(
                f"item_tower has features for {len(features)} items but the data has "
                f"{data.n_items}; build them in data.items order (catalog_features)"
            )
        rng = np.random.default_rng(self.random_state)
        with torch_threads(self.num_threads):
            torch.manual_seed(self.random_state)
            self.net_ = _build_net(features, self.hidden, self.factors)
            if self.objective == "softmax":
                self._fit_softmax(data, features, rng)
            else:
                self._fit_als(data, features, rng)
            self.item_vectors_ = self._vectors(features)
        if self.objective == "als" and self.warm_factors_ is not None:
            warm = np.diff(data.matrix.tocsc().indptr) > 0
            self.item_vectors_[warm] = self.warm_factors_
            self.warm_factors_ = None
        if self.identity_:
            # An id token without events was never trained: nothing is known, score 0.
            self.item_vectors_[np.diff(data.matrix.tocsc().indptr) == 0] = 0.0
        self.gram_ = None
        self.features_ = None  # only needed while training; new items bring their own

    def _fit_softmax(
        self, data: InteractionData, features: ItemFeatures, rng: np.random.Generator
    ) -> None:
        import torch
        from torch.nn import functional as F  # noqa: N812

        pool = _pool_weights(data.matrix)
        warm = np.flatnonzero(np.diff(pool.tocsc().indptr) > 0)
        position = np.full(data.n_items, -1, np.int64)
        position[warm] = np.arange(warm.size)
        pool_warm = pool[:, warm].tocsr()
        coo = pool_warm.tocoo()
        per_user = np.diff(pool_warm.indptr)
        keep = per_user[coo.row] >= 2  # a positive is predicted from the user's other items
        users = coo.row[keep].astype(np.int64)
        items, weights = coo.col[keep].astype(np.int64), coo.data[keep]
        totals = np.asarray(pool_warm.sum(axis=1)).ravel()
        warm_x = _tensors(features.rows(warm))
        user_map = torch.nn.Linear(self.factors, self.factors, bias=False)
        torch.nn.init.eye_(user_map.weight)
        parameters = [*self.net_.parameters(), *user_map.parameters()]
        optimizer = torch.optim.Adam(
            parameters, lr=self.learning_rate, weight_decay=self.weight_decay
        )
        epochs = range(1, self.epochs + 1)
        for epoch in progress.track(epochs, "item tower epochs", unit="epochs"):
            self.net_.train()
            order = rng.permutation(users.size)
            total = 0.0
            for start in range(0, order.size, self.batch_size):
                batch = order[start : start + self.batch_size]
                vectors = self._forward(warm_x)
                rows = _sparse_tensor(pool_warm[users[batch]])
                weight = torch.from_numpy(weights[batch])[:, None]
                own = vectors[torch.from_numpy(items[batch])]
                pooled = (torch.sparse.mm(rows, vectors) - weight * own) / torch.from_numpy(
                    totals[users[batch]] - weights[batch]
                )[:, None].clamp_min(1e-6)
                logits = user_map(pooled) @ vectors.T
                loss = F.cross_entropy(logits, torch.from_numpy(items[batch]))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
                total += float(loss.detach()) * batch.size
            log.info("item_tower epoch %d softmax loss %.4f", epoch, total / max(users.size, 1))
        self.user_map_ = user_map.weight.detach().numpy().T.copy()
        self.user_factors_ = np.zeros((0, self.factors), np.float32)

    def _fit_als(
        self, data: InteractionData, features: ItemFeatures, rng: np.random.Generator
    ) -> None:
        import torch

        from shopsense.models.als import ALS

        als = ALS(
            factors=self.factors,
            regularization=self.als_regularization,
            alpha=self.als_alpha,
            iterations=self.als_iterations,
            random_state=self.random_state,
        ).fit(data)
        warm = np.flatnonzero(np.diff(data.matrix.tocsc().indptr) > 0)
        shuffled = rng.permutation(warm)
        n_valid = round(self.valid_fraction * warm.size) if warm.size >= 20 else 0
        valid, train = shuffled[:n_valid], shuffled[n_valid:]
        targets = torch.from_numpy(als.item_factors_)
        valid_x = _tensors(features.rows(valid)) if n_valid else None
        optimizer = torch.optim.Adam(
            self.net_.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        best, best_state, since_best = np.inf, _copy_state(self.net_), 0
        bound = self.regression_epochs  # early stopping ends the task sooner
        with progress.task("item tower epochs", total=bound, unit="epochs") as advance:
            for epoch in range(1, bound + 1):
                self.net_.train()
                order = rng.permutation(train)
                for start in range(0, order.size, self.regression_batch_size):
                    batch = order[start : start + self.regression_batch_size]
                    predicted = self._forward(_tensors(features.rows(batch)))
                    loss = ((predicted - targets[batch]) ** 2).sum(dim=1).mean()
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()  # type: ignore[no-untyped-call]
                    optimizer.step()
                advance(1)
                if valid_x is None:
                    continue
                self.net_.eval()
                with torch.no_grad():
                    error = float(((self._forward(valid_x) - targets[valid]) ** 2).sum(1).mean())
                log.info("item_tower epoch %d held-out factor MSE %.5f", epoch, error)
                if error < best:
                    best, best_state, since_best = error, _copy_state(self.net_), 0
                else:
                    since_best += 1
                    if since_best >= self.patience:
                        break
        if valid_x is not None:
            self.net_.load_state_dict(best_state)
        self.warm_factors_ = als.item_factors_[warm] if self.keep_als_factors else None
        self.user_factors_ = als.user_factors_
        self.user_map_ = np.zeros((0, self.factors), np.float32)

    def _forward(self, x: tuple[Tensor, Tensor, Tensor, Tensor]) -> Tensor:
        """Tower output ``(n, factors)`` for feature tensors from :func:`_tensors`."""
        from torch.nn import functional as F  # noqa: N812

        text, indices, offsets, weights = x
        h = self.net_["tokens"](indices, offsets, per_sample_weights=weights)
        if "text" in self.net_:
            h = h + self.net_["text"](text)
        if self.activation == "sigmoid":
            h = h.sigmoid()
        else:
            h = F.relu(h) if self.activation == "relu" else F.gelu(h)
        h = F.dropout(h, self.dropout, self.net_.training)
        out: Tensor = self.net_["out"](h)
        return out

    def _text_dim(self) -> int:
        if "text" not in self.net_:
            return 0
        weight: Tensor = self.net_["text"].get_parameter("weight")
        return int(weight.shape[1])

    def _vectors(self, features: ItemFeatures, batch_size: int = 4096) -> FloatArray:
        import torch

        self.net_.eval()
        parts = [np.zeros((0, self.factors), np.float32)]
        with torch.no_grad():
            for start in range(0, len(features), batch_size):
                rows = np.arange(start, min(start + batch_size, len(features)))
                parts.append(self._forward(_tensors(features.rows(rows))).numpy())
        return np.concatenate(parts).astype(np.float32)

    # --- new products -------------------------------------------------------------------
    def item_vectors_for(
        self, products: Sequence[Product], encoder: TextEncoder | None = None
    ) -> FloatArray:
        """Tower vectors ``(len(products), factors)`` from the products' features alone."""
        self._require_fit()
        text_dim = self._text_dim()
        if self.identity_:
            return np.zeros((len(products), self.factors), np.float32)
        if self.feature_space_ is None:
            raise ModelError(
                "item_tower was trained on features without their ItemFeatureSpace; pass "
                "with_item_features(features, space) to featurise new products"
            )
        if text_dim and encoder is None:
            from shopsense.features.text import default_encoder

            encoder = default_encoder(self.text_encoder)
        features = self.feature_space_.transform(list(products), encoder if text_dim else None)
        return self._vectors(features)

    def add_items(self, products: Sequence[Product], encoder: TextEncoder | None = None) -> None:
        """Make ``products`` recommendable now: new ids are appended, known ids re-featurised."""
        vectors = self.item_vectors_for(products, encoder)
        ids = [p.id for p in products]
        fresh = [i for i in dict.fromkeys(ids) if i not in self.items_]
        if fresh:
            items = IdMap([*self.items_.to_list(), *fresh])
            train = self.train_
            self.train_ = InteractionData(
                train.users, items, train.log_user, train.log_item, train.log_time,
                train.log_weight,
            )  # fmt: skip
            self.items_ = items
            pad = np.zeros(len(fresh), np.float32)
            self.item_popularity_ = np.concatenate([self.item_popularity_, pad])
            grown = np.zeros((len(items), self.factors), np.float32)
            grown[: self.item_vectors_.shape[0]] = self.item_vectors_
            self.item_vectors_ = grown
        self.item_vectors_[self.items_.indices(ids)] = vectors
        self.gram_ = None

    # --- scoring ----------------------------------------------------------------------
    def _score(self, histories: Histories) -> FloatArray:
        if self.objective == "als":
            if histories.fresh:
                users = np.stack([self._fold_in(*histories.row(i)) for i in range(len(histories))])
            else:
                users = self.user_factors_[histories.users]
        else:
            pool = _pool_weights(histories.matrix)
            totals = np.asarray(pool.sum(axis=1)).ravel()
            pooled = (pool @ self.item_vectors_[: pool.shape[1]]) / np.maximum(totals, 1e-6)[
                :, None
            ]
            users = pooled @ self.user_map_
        scores: FloatArray = np.asarray(users @ self.item_vectors_.T, np.float32)
        return scores

    def _fold_in(self, items: IntArray, weights: npt.NDArray[np.float32]) -> FloatArray:
        """ALS half-step for one shopper against the tower's item vectors (:func:`fold_in`),
        with the confidences its ALS trained on (``alpha * log1p(weight)``, as :class:`ALS`)."""
        confidence = self.als_alpha * np.log1p(weights.astype(np.float64))
        if self.gram_ is None or self.gram_.shape[0] != self.factors:
            all_y = self.item_vectors_.astype(np.float64)
            self.gram_ = all_y.T @ all_y
        return fold_in(self.item_vectors_, self.gram_, items, confidence, self.als_regularization)

    def item_embeddings(self) -> FloatArray:
        return self.item_vectors_

    # --- persistence ------------------------------------------------------------------
    def _state(self) -> dict[str, npt.NDArray[Any]]:
        arrays = {f"net.{k}": v.detach().numpy() for k, v in self.net_.state_dict().items()}
        if self.feature_space_ is not None:
            arrays |= self.feature_space_.to_arrays("space.")
        return {
            **arrays,
            "item_vectors_": self.item_vectors_,
            "user_map_": self.user_map_,
            "user_factors_": self.user_factors_,
            "identity_": np.array(self.identity_),
        }

    def _set_state(self, arrays: dict[str, npt.NDArray[Any]]) -> None:
        import torch

        self.item_vectors_ = arrays["item_vectors_"]
        self.gram_ = None
        self.user_map_ = arrays["user_map_"]
        self.user_factors_ = arrays["user_factors_"]
        self.identity_ = bool(arrays["identity_"])
        has_space = "space.vocabulary" in arrays
        self.feature_space_ = ItemFeatureSpace.from_arrays(arrays, "space.") if has_space else None
        n_tokens = arrays["net.tokens.weight"].shape[0] - 1
        text = arrays.get("net.text.weight")
        text_dim = 0 if text is None else text.shape[1]
        shape_only = ItemFeatures(
            np.zeros((0, text_dim), np.float32), sp.csr_matrix((0, n_tokens), dtype=np.float32)
        )
        self.net_ = _build_net(shape_only, self.hidden, self.factors)
        state = {k[4:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("net.")}
        self.net_.load_state_dict(state)
        self.net_.eval()


def _pool_weights(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """``log1p`` of the event weights: how much each past item counts in a user's mean."""
    pool = matrix.astype(np.float32, copy=True).tocsr()
    pool.data = np.log1p(np.maximum(pool.data, 0.0))
    pool.eliminate_zeros()
    return pool


def _build_net(features: ItemFeatures, hidden: int, factors: int) -> nn.ModuleDict:
    """``tokens``: EmbeddingBag over the vocabulary plus one always-on bias token (b1);
    ``text``: W1's text columns (absent without text); ``out``: W2, b2."""
    from torch import nn

    layers: dict[str, nn.Module] = {
        "tokens": nn.EmbeddingBag(features.n_tokens + 1, hidden, mode="sum"),
        "out": nn.Linear(hidden, factors),
    }
    nn.init.normal_(layers["tokens"].weight, std=0.05)  # type: ignore[arg-type]
    if features.text_dim:
        layers["text"] = nn.Linear(features.text_dim, hidden, bias=False)
    return nn.ModuleDict(layers)


def _tensors(features: ItemFeatures) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(text ``(n, d_text)``, then :meth:`ItemFeatures.bags` as tensors) for the net."""
    import torch

    text = np.ascontiguousarray(features.text, np.float32)
    return (torch.from_numpy(text), *(torch.from_numpy(a) for a in features.bags()))  # type: ignore[return-value]


def _sparse_tensor(matrix: sp.csr_matrix) -> Tensor:
    import torch

    coo = matrix.tocoo()
    index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    return torch.sparse_coo_tensor(
        index, torch.from_numpy(coo.data), coo.shape, check_invariants=False
    )


def _copy_state(net: nn.ModuleDict) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}
