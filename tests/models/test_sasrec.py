"""SASRec: learns an order, reads fresh sequences at once, early-stops, takes item features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopsense.errors import ModelError
from shopsense.features.interactions import InteractionData
from shopsense.models import SASRec, load_model

pytest.importorskip("torch")


def cycle_data(n_users: int = 120, n_items: int = 12) -> InteractionData:
    """Each shopper walks the cycle i -> i+1 from a random start: order is everything."""
    rng = np.random.default_rng(0)
    sequences = {}
    for u in range(n_users):
        start = int(rng.integers(0, n_items))
        sequences[f"u{u}"] = [f"i{(start + k) % n_items}" for k in range(6)]
    return InteractionData.from_sequences(sequences)


@pytest.fixture(scope="module")
def model() -> SASRec:
    params = {"hidden": 16, "layers": 1, "dropout": 0.0, "learning_rate": 5e-3}
    return SASRec(**params, epochs=40, patience=5, num_threads=1).fit(cycle_data())


def test_learns_the_next_item_and_reads_fresh_history(model: SASRec) -> None:
    assert model.recommend("new", n=1, history=["i3", "i4"])[0][0] == "i5"
    # One more event changes the next answer at once, without retraining.
    assert model.recommend("new", n=1, history=["i3", "i4", "i5"])[0][0] == "i6"


def test_early_stopping_keeps_a_curve(model: SASRec) -> None:
    curve = model.training_curve_
    assert curve.shape[1] == 4 and 1 <= len(curve) <= 40
    assert curve[-1, 1] < curve[0, 1]  # the loss went down
    assert np.nanmax(curve[:, 2]) > 0.5  # held-out NDCG@10 of the cycle is high


def test_item_features_are_used_and_saved(tmp_path: Path) -> None:
    data = cycle_data(n_users=40)
    features = np.random.default_rng(1).normal(size=(data.n_items, 8)).astype(np.float32)
    m = SASRec(hidden=8, layers=1, epochs=3, valid_fraction=0.0, num_threads=1)
    m.with_item_features(features).fit(data)
    m.save(tmp_path / "s")
    loaded = load_model(tmp_path / "s")
    np.testing.assert_allclose(loaded.scores("u1"), m.scores("u1"), rtol=1e-5, atol=1e-6)


def test_bad_item_features_are_refused() -> None:
    data = cycle_data(n_users=10)
    with pytest.raises(ModelError, match="shape"):
        SASRec(epochs=1).with_item_features(np.zeros((3, 4))).fit(data)
    nan = np.full((data.n_items, 4), np.nan)
    with pytest.raises(ModelError, match="NaN"):
        SASRec(epochs=1).with_item_features(nan).fit(data)


def test_sampled_softmax_learns_the_order_too() -> None:
    params = {"hidden": 16, "layers": 1, "dropout": 0.0, "learning_rate": 5e-3}
    sampled = SASRec(**params, negatives=6, epochs=40, patience=5, num_threads=1)
    sampled.fit(cycle_data())
    assert sampled.recommend("new", n=1, history=["i3", "i4"])[0][0] == "i5"


def test_device_auto_trains_where_torch_can_and_serves_on_the_cpu() -> None:
    import torch

    m = SASRec(hidden=8, layers=1, epochs=2, valid_fraction=0.0, device="auto", num_threads=1)
    m.fit(cycle_data(n_users=30))
    assert m.net_.item_embedding.weight.device.type == "cpu"
    assert m.recommend("u1", n=3)
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="no CUDA GPU"):
            SASRec(epochs=1, device="cuda").fit(cycle_data(n_users=10))


def test_held_out_ndcg_breaks_ties_at_random_and_skips_seen_items() -> None:
    """Regression (issue 14): early stopping let the target win every score tie, so an
    untrained net whose scores are all equal looked perfect."""
    import torch

    from shopsense.models._torch import SASRecNet, held_out_ndcg, right_aligned_tokens

    n_items, rows = 20, 2000
    torch.manual_seed(0)
    net = SASRecNet(n_items, hidden=8, layers=1, heads=1, dropout=0.0, maxlen=5)
    with torch.no_grad():
        net.item_embedding.weight.zero_()  # every item scores exactly 0: all tied
    rng = np.random.default_rng(0)
    sequences = [rng.choice(n_items, size=2, replace=False) for _ in range(rows)]
    targets = rng.integers(0, n_items, size=rows)
    seen = [np.unique(s) for s in sequences]
    inputs = right_aligned_tokens(sequences, 5)
    top10 = sum(1 / np.log2(r + 2) for r in range(10))
    # a target among the seen items is a miss; any other takes one of 18 places at random
    rankable = np.mean([t not in s for t, s in zip(targets, seen, strict=True)])
    ndcg = held_out_ndcg(net, inputs, targets, seen)
    assert ndcg == pytest.approx(rankable * top10 / (n_items - 2), abs=0.02)
    assert held_out_ndcg(net, inputs, targets, seen) == ndcg  # one seed, one figure
    # empty histories: nothing is excluded, all 20 places are open
    empty = [np.zeros(0, np.int64)] * rows
    blank = right_aligned_tokens(empty, 5)
    assert held_out_ndcg(net, blank, targets, empty) == pytest.approx(top10 / n_items, abs=0.02)


def test_attention_is_what_the_block_applies() -> None:
    """Known answer: with one head, the last position's attention weights times the values
    are the block's attention output there (scaled dot-product, causal and padding mask)."""
    import torch
    from torch.nn import functional as F  # noqa: N812

    from shopsense.models._torch import CausalBlock

    torch.manual_seed(0)
    block = CausalBlock(hidden=8, heads=1, dropout=0.0).eval()
    x = torch.randn(2, 5, 8)
    real = torch.tensor([[False, False, True, True, True], [True] * 5])
    allowed = (torch.ones(5, 5, dtype=torch.bool).tril() & real[:, None, :]) | torch.eye(
        5, dtype=torch.bool
    )
    allowed = allowed.unsqueeze(1)
    with torch.no_grad():
        weights = block.last_attention(x, allowed)
        q, k, v = block._qkv(x)
        expected = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)[:, 0, -1]
    assert torch.allclose((weights[:, :, None] * v[:, 0]).sum(dim=1), expected, atol=1e-6)
    assert torch.allclose(weights.sum(dim=1), torch.ones(2))
    assert (weights[0, :2] == 0).all()  # padding gets none


def test_attended_history_weights_sum_to_one_per_item(model: SASRec) -> None:
    weights = model.attended(["i3", "i4", "i4", "nope", "i5", "i3"])
    assert {item for item, _ in weights} == {"i3", "i4", "i5"}  # unknown left out
    assert sum(w for _, w in weights) == pytest.approx(1.0, abs=1e-5)
    assert [w for _, w in weights] == sorted((w for _, w in weights), reverse=True)
    assert model.attended(["i7"]) == [("i7", pytest.approx(1.0))]
    assert model.attended(["nope"]) == []


def test_models_that_do_not_attend_say_so() -> None:
    from shopsense.models import Popularity

    assert Popularity().fit(cycle_data()).attended(["i1"]) is None


def test_an_int8_copy_scores_like_the_float_model(model: SASRec, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    int8 = model.quantized()
    assert model.recommend("new", n=1, history=["i3", "i4"])[0][0] == "i5"
    assert int8.recommend("new", n=1, history=["i3", "i4"])[0][0] == "i5"
    history = ["i1", "i2", "i3"]
    full, small = model.scores("", history=history), int8.scores("", history=history)
    assert np.corrcoef(full, small)[0, 1] > 0.99
    assert not np.array_equal(full, small)  # it is another computation (int8 weights)
    assert model.__dict__.get("_int8") is None  # the original scores as before
    with pytest.raises(ModelError, match="save the float model"):
        int8.save(tmp_path / "int8")


def test_a_student_learns_from_its_teacher(model: SASRec) -> None:
    """A student trained on the teacher's distribution alone (``distill_weight=1``: no
    true next item in its loss) answers the cycle as the teacher does; a teacher on other
    items is refused."""
    data = cycle_data()
    student = SASRec(hidden=16, layers=1, dropout=0.0, learning_rate=5e-3, epochs=40,
                     valid_fraction=0.0, num_threads=1, distill_weight=1.0)  # fmt: skip
    student.distilled_from(model).fit(data)
    right = 0
    for start in range(12):
        history = [f"i{start}", f"i{(start + 1) % 12}"]
        teacher_says = model.recommend("new", n=1, history=history)[0][0]
        right += student.recommend("new", n=1, history=history)[0][0] == teacher_says
    assert right >= 11
    assert student.teacher_ is model
    other = InteractionData.from_sequences({"u": ["x", "y", "z"]})
    with pytest.raises(ModelError, match="other items"):
        SASRec(epochs=1).distilled_from(model).fit(other)


def test_distillation_loss_is_the_cross_entropy_without_a_teacher_weight(model: SASRec) -> None:
    """Known answer: weight 0 gives the plain loss; a student that is its own teacher has
    no divergence, so weight 1 gives 0."""
    import torch

    with torch.no_grad():
        tokens = torch.tensor([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])
        net = model.net_
        plain = float(net.loss(tokens))
        student = SASRec(distill_weight=0.0).distilled_from(model)
        assert float(student._loss(net, tokens, None, "cpu")) == pytest.approx(plain, rel=1e-5)
        itself = SASRec(distill_weight=1.0).distilled_from(model)
        assert float(itself._loss(net, tokens, None, "cpu")) == pytest.approx(0.0, abs=1e-5)
        negatives = torch.tensor([0, 3, 5])
        sampled = SASRec(distill_weight=1.0).distilled_from(model)
        assert float(sampled._loss(net, tokens, negatives, "cpu")) == pytest.approx(0.0, abs=1e-5)
