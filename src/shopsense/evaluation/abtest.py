"""A/B testing: deterministic assignment, per-variant metrics with CIs, significance, SRM.

- **Assignment** hashes ``"<experiment salt>:<user id>"`` (SHA-256) to a number in [0, 1)
  and walks the variants' cumulative traffic split: the same shopper always gets the same
  variant, experiments with different salts split independently, no state is stored.
- **Metrics** are per *user* (the unit that was randomised): conversion = share of users
  with a purchase, revenue per user, CTR = clicks / impressions (a ratio of per-user sums,
  its CI by the delta method).
- **Tests**: two-proportion z-test (pooled) for conversion, a delta-method z-test for the
  CTR difference (clicks and impressions summed per user, so a user's correlated
  impressions are not counted as independent), a bootstrap over users for the revenue
  difference, and a chi-square sample-ratio-mismatch (SRM) check of the user counts
  against the configured split (a failed SRM voids the experiment's other results).
- **A/A checks**: :func:`rejection_rates` counts how often each test rejects over repeated
  A/A experiments (it should be near 5%), with a Wilson 95% interval.

Example::

    >>> from shopsense.experiments import Variant
    >>> assign_variant(Experiment(name="ranker", variants=[
    ...     Variant(name="control", weight=1), Variant(name="treatment", weight=1)]), "U0042")
    'treatment'
    >>> round(two_proportion_ztest(120, 1000, 150, 1000).p_value, 4)
    0.0496
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import stats

from shopsense.errors import ConfigError
from shopsense.experiments import Experiment

FloatArray = npt.NDArray[np.float64]
Z95 = 1.959963984540054
#: Below this chi-square p-value the user counts do not fit the configured split (SRM).
SRM_ALPHA = 0.001


def bucket(salt: str, user_id: str) -> float:
    """A uniform number in [0, 1) fixed by ``salt`` and ``user_id`` (first 8 bytes of SHA-256)."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign_variant(experiment: Experiment, user_id: str) -> str:
    """The variant ``user_id`` sees in ``experiment`` (deterministic, by traffic weight)."""
    point = bucket(experiment.salt or experiment.name, user_id) * experiment.total_weight
    edge = 0.0
    for variant in experiment.variants:
        edge += variant.weight
        if point < edge:
            return variant.name
    return experiment.variants[-1].name


# --- confidence intervals -----------------------------------------------------------------
def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (good near 0 and 1, unlike the Wald one).

    >>> [round(x, 4) for x in wilson_interval(10, 100)]
    [0.0552, 0.1744]
    """
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes <= 0 else max(0.0, centre - half)  # exact ends, no rounding dust
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return (low, high)


def mean_interval(values: npt.ArrayLike, z: float = Z95) -> tuple[float, float]:
    """Normal-approximation interval of a mean (fine for the thousands of units here)."""
    x = np.asarray(values, np.float64)
    if x.size < 2:
        return (float("nan"), float("nan"))
    half = z * float(x.std(ddof=1)) / math.sqrt(x.size)
    return (float(x.mean()) - half, float(x.mean()) + half)


def ratio_interval(
    numerator: npt.ArrayLike, denominator: npt.ArrayLike, z: float = Z95
) -> tuple[float, float]:
    """Delta-method interval of ``sum(numerator) / sum(denominator)`` over independent
    units (``(n,)`` each), e.g. CTR = clicks / impressions with users as units."""
    ratio, se = _ratio_and_se(numerator, denominator)
    return (ratio - z * se, ratio + z * se)


def _ratio_and_se(numerator: npt.ArrayLike, denominator: npt.ArrayLike) -> tuple[float, float]:
    """``sum(a) / sum(b)`` and its delta-method standard error (NaN when undefined)."""
    a = np.asarray(numerator, np.float64)
    b = np.asarray(denominator, np.float64)
    if a.size < 2 or b.sum() <= 0:
        return (float("nan"), float("nan"))
    ratio = float(a.sum() / b.sum())
    residual = a - ratio * b
    return ratio, math.sqrt(float(residual.var(ddof=1)) * a.size) / float(b.sum())


# --- tests --------------------------------------------------------------------------------
@dataclass(frozen=True)
class TestResult:
    """``difference`` = treatment - control, its 95% CI, the statistic and the p-value."""

    difference: float
    ci95: tuple[float, float]
    statistic: float
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05


def two_proportion_ztest(x_a: int, n_a: int, x_b: int, n_b: int) -> TestResult:
    """Pooled two-sided z-test of ``x_b / n_b`` against ``x_a / n_a`` (CI unpooled)."""
    if n_a <= 0 or n_b <= 0:
        raise ConfigError("the z-test needs at least one unit in each variant")
    p_a, p_b = x_a / n_a, x_b / n_b
    pooled = (x_a + x_b) / (n_a + n_b)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z = (p_b - p_a) / se_pooled if se_pooled > 0 else 0.0
    p_value = float(2 * stats.norm.sf(abs(z)))
    se = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    return TestResult(p_b - p_a, (p_b - p_a - Z95 * se, p_b - p_a + Z95 * se), z, p_value)


def ratio_difference_ztest(
    numerator_a: npt.ArrayLike,
    denominator_a: npt.ArrayLike,
    numerator_b: npt.ArrayLike,
    denominator_b: npt.ArrayLike,
) -> TestResult:
    """Two-sided z-test of ``sum(num_b) / sum(den_b) - sum(num_a) / sum(den_a)`` with
    per-unit ``(n,)`` arrays (e.g. clicks and impressions per user): each ratio's variance
    by the delta method, so units, not impressions, are the independent draws. A p-value
    of 1 when the difference has no variance (e.g. no impressions)."""
    ratio_a, se_a = _ratio_and_se(numerator_a, denominator_a)
    ratio_b, se_b = _ratio_and_se(numerator_b, denominator_b)
    difference = ratio_b - ratio_a
    se = math.hypot(se_a, se_b)
    if not math.isfinite(se) or se <= 0:
        return TestResult(difference, (float("nan"), float("nan")), 0.0, 1.0)
    z = difference / se
    p_value = float(2 * stats.norm.sf(abs(z)))
    return TestResult(difference, (difference - Z95 * se, difference + Z95 * se), z, p_value)


def bootstrap_mean_difference(
    control: npt.ArrayLike, treatment: npt.ArrayLike, resamples: int = 2000, seed: int = 0
) -> TestResult:
    """Percentile bootstrap of ``mean(treatment) - mean(control)`` (units resampled within
    each variant); the p-value is the two-sided share of the centred bootstrap
    distribution at least as far from 0 as the observed difference."""
    a = np.asarray(control, np.float64)
    b = np.asarray(treatment, np.float64)
    if a.size == 0 or b.size == 0:
        raise ConfigError("the bootstrap needs at least one unit in each variant")
    rng = np.random.default_rng(seed)
    means_a = a[rng.integers(0, a.size, (resamples, a.size))].mean(axis=1)
    means_b = b[rng.integers(0, b.size, (resamples, b.size))].mean(axis=1)
    diffs = means_b - means_a
    observed = float(b.mean() - a.mean())
    centred = diffs - diffs.mean()
    p_value = float((np.abs(centred) >= abs(observed)).mean())
    low, high = np.percentile(diffs, [2.5, 97.5])
    return TestResult(observed, (float(low), float(high)), observed / (diffs.std() or 1.0), p_value)


def sample_ratio_mismatch(counts: Sequence[int], weights: Sequence[float]) -> float:
    """Chi-square p-value of the observed units per variant against the configured split;
    below :data:`SRM_ALPHA` (0.001, the usual threshold) means assignment or logging is
    broken."""
    observed = np.asarray(counts, np.float64)
    share = np.asarray(weights, np.float64) / float(np.sum(weights))
    if observed.sum() <= 0:
        return 1.0
    return float(stats.chisquare(observed, share * observed.sum()).pvalue)


# --- the report -------------------------------------------------------------------------
@dataclass(frozen=True)
class UserOutcomes:
    """Per-user totals of one experiment, each ``(n_users,)``."""

    user_ids: list[str]
    impressions: FloatArray
    clicks: FloatArray
    purchases: FloatArray
    revenue: FloatArray


@dataclass(frozen=True)
class VariantReport:
    name: str
    users: int
    ctr: float
    ctr_ci95: tuple[float, float]
    conversion_rate: float
    conversion_ci95: tuple[float, float]
    revenue_per_user: float
    revenue_ci95: tuple[float, float]


@dataclass(frozen=True)
class ExperimentReport:
    """Each variant's metrics, and each treatment against the first (control) variant."""

    experiment: str
    variants: list[VariantReport]
    conversion_tests: dict[str, TestResult]
    revenue_tests: dict[str, TestResult]
    srm_p_value: float
    ctr_tests: dict[str, TestResult] = field(default_factory=dict)

    @property
    def srm_ok(self) -> bool:
        return self.srm_p_value >= SRM_ALPHA


def analyze(
    experiment: Experiment, outcomes: UserOutcomes, resamples: int = 2000
) -> ExperimentReport:
    """Split ``outcomes`` by each user's assigned variant and test treatments vs control."""
    labels = np.array([assign_variant(experiment, u) for u in outcomes.user_ids])
    parts: Mapping[str, npt.NDArray[np.bool_]] = {
        v.name: labels == v.name for v in experiment.variants
    }
    reports = []
    for name, rows in parts.items():
        converted = int((outcomes.purchases[rows] > 0).sum())
        users = int(rows.sum())
        shown = outcomes.impressions[rows]
        reports.append(
            VariantReport(
                name=name,
                users=users,
                ctr=float(outcomes.clicks[rows].sum() / max(shown.sum(), 1.0)),
                ctr_ci95=ratio_interval(outcomes.clicks[rows], shown),
                conversion_rate=converted / max(users, 1),
                conversion_ci95=wilson_interval(converted, users),
                revenue_per_user=float(outcomes.revenue[rows].mean()) if users else 0.0,
                revenue_ci95=mean_interval(outcomes.revenue[rows]),
            )
        )
    control = experiment.variants[0].name
    conversion: dict[str, TestResult] = {}
    ctr: dict[str, TestResult] = {}
    revenue: dict[str, TestResult] = {}
    for variant in experiment.variants[1:]:
        a, b = parts[control], parts[variant.name]
        if a.any() and b.any():
            conversion[variant.name] = two_proportion_ztest(
                int((outcomes.purchases[a] > 0).sum()),
                int(a.sum()),
                int((outcomes.purchases[b] > 0).sum()),
                int(b.sum()),
            )
            ctr[variant.name] = ratio_difference_ztest(
                outcomes.clicks[a],
                outcomes.impressions[a],
                outcomes.clicks[b],
                outcomes.impressions[b],
            )
            revenue[variant.name] = bootstrap_mean_difference(
                outcomes.revenue[a], outcomes.revenue[b], resamples
            )
    srm = sample_ratio_mismatch([r.users for r in reports], [v.weight for v in experiment.variants])
    return ExperimentReport(experiment.name, reports, conversion, revenue, srm, ctr)


# --- A/A checks -------------------------------------------------------------------------
@dataclass(frozen=True)
class RejectionRate:
    """How many of ``runs`` tests rejected, the share and its Wilson 95% interval."""

    rejections: int
    runs: int
    rate: float
    ci95: tuple[float, float]


def rejection_rates(
    reports: Sequence[ExperimentReport], alpha: float = 0.05
) -> dict[str, RejectionRate]:
    """Share of ``reports`` (A/A experiments: every variant the same) whose tests reject at
    ``alpha``, for ``conversion``, ``ctr`` and ``revenue`` (any treatment against the
    control) and ``srm`` (below 0.001). Near ``alpha`` (0.001 for SRM) when the tests are
    calibrated; well above means the tests, or the assignment, are wrong.

    >>> rejection_rates([])["conversion"].runs
    0
    """
    tests: dict[str, Callable[[ExperimentReport], bool]] = {
        "conversion": lambda r: any(t.p_value < alpha for t in r.conversion_tests.values()),
        "ctr": lambda r: any(t.p_value < alpha for t in r.ctr_tests.values()),
        "revenue": lambda r: any(t.p_value < alpha for t in r.revenue_tests.values()),
        "srm": lambda r: not r.srm_ok,
    }
    out: dict[str, RejectionRate] = {}
    for name, rejects in tests.items():
        count = sum(1 for report in reports if rejects(report))
        runs = len(reports)
        out[name] = RejectionRate(
            count, runs, count / runs if runs else 0.0, wilson_interval(count, runs)
        )
    return out
