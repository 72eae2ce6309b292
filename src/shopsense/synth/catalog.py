"""The sample shop's catalog: products with believable text, prices and hidden latents.

Each product sits in one leaf of :data:`~shopsense.synth.vocabulary.LEAVES`, has a brand of
its department, a log-normal price around its leaf's median, attributes drawn from the
leaf's vocabulary, and a title and description composed from the same words, so that the
text says what the product is::

    Trailmark Ridge 3 men's waterproof mesh trail running shoe, blue

Hidden from the shop, each product also has a latent style vector (built from its leaf,
brand and attribute words, so similar texts have similar latents) and a quality score;
:class:`~shopsense.synth.truth.GroundTruth` keeps them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from shopsense.domain import Product
from shopsense.synth.vocabulary import DEPARTMENTS, LEAVES, LINE_NAMES, LeafCategory

logger = logging.getLogger(__name__)

#: How long the shop existed before the simulated window; old products date from then.
HISTORY_DAYS = 540
#: Share of products launched during the simulated window (they appear at created_at).
NEW_PRODUCT_SHARE = 0.12
OUT_OF_STOCK_SHARE = 0.05
_GENDERS = ("men", "women", "unisex", "kids")
_GENDER_WEIGHTS = (0.42, 0.4, 0.12, 0.06)
_POSSESSIVE = {"men": "men's ", "women": "women's ", "unisex": "", "kids": "kids' "}
_LINE_SUFFIXES = ("", "", " 2", " 3", " Pro", " Lite", " X", " Plus")
#: Specs that read after the noun ("moisturizer for dry skin"), the rest read before it.
_SUFFIX_SPECS = {"skin type": "for {} skin", "hair type": "for {} hair", "players": "for {}"}


@dataclass(frozen=True)
class Catalog:
    """Products plus the hidden per-product arrays the shoppers react to.

    Arrays have shape ``(n_products,)`` (``latent``: ``(n_products, latent_dim)``) and
    follow the order of ``products``. ``created_us`` is UTC epoch microseconds.
    ``price_z`` is the price's position in its leaf's log-normal, in standard deviations.
    """

    products: list[Product]
    leaves: tuple[LeafCategory, ...]
    brands: tuple[str, ...]
    brand_department: npt.NDArray[np.intp]
    item_leaf: npt.NDArray[np.intp]
    item_brand: npt.NDArray[np.intp]
    price: npt.NDArray[np.float64]
    price_z: npt.NDArray[np.float64]
    created_us: npt.NDArray[np.int64]
    in_stock: npt.NDArray[np.bool_]
    latent: npt.NDArray[np.float64]
    quality: npt.NDArray[np.float64]

    @property
    def leaf_department(self) -> npt.NDArray[np.intp]:
        names = [d.name for d in DEPARTMENTS]
        return np.array([names.index(leaf.department) for leaf in self.leaves], dtype=np.intp)


def epoch_us(moment: datetime) -> int:
    """UTC epoch microseconds of an aware datetime."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_epoch_us(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))


def product_id(index: int, n_products: int) -> str:
    """``P00001`` for the first product (wider when the catalog needs more digits)."""
    return f"P{index + 1:0{max(5, len(str(n_products)))}d}"


def build_catalog(
    n_products: int,
    *,
    start: datetime,
    end: datetime,
    rng: np.random.Generator,
    latent_dim: int = 16,
) -> Catalog:
    """Draw ``n_products`` products; those created after ``start`` launch inside the window."""
    leaves = LEAVES
    brands = tuple(b for d in DEPARTMENTS for b in d.brands)
    dept_names = [d.name for d in DEPARTMENTS]
    brand_department = np.array(
        [i for i, d in enumerate(DEPARTMENTS) for _ in d.brands], dtype=np.intp
    )
    leaf_department = np.array([dept_names.index(leaf.department) for leaf in leaves])

    item_leaf = _assign_leaves(n_products, leaf_department, rng)
    item_brand = np.empty(n_products, dtype=np.intp)
    for dept in range(len(DEPARTMENTS)):
        dept_brands = np.flatnonzero(brand_department == dept)
        # Zipf-like brand shares inside a department: a few big brands, a long tail.
        share = 1.0 / np.arange(1, len(dept_brands) + 1) ** 0.8
        members = np.flatnonzero(leaf_department[item_leaf] == dept)
        item_brand[members] = rng.choice(dept_brands, size=members.size, p=share / share.sum())

    brand_quality = rng.normal(0.0, 0.25, len(brands))
    brand_tier = rng.normal(0.0, 0.45, len(brands))
    quality = brand_quality[item_brand] + rng.normal(0.0, 0.35, n_products)
    median = np.array([leaf.median_price for leaf in leaves])[item_leaf]
    sigma = np.array([leaf.price_sigma for leaf in leaves])[item_leaf]
    raw_z = np.clip(0.75 * rng.normal(size=n_products) + brand_tier[item_brand] + 0.35 * quality,
                    -2.5, 2.5)  # fmt: skip
    price = _shop_price(median * np.exp(sigma * raw_z))
    price_z = (np.log(price) - np.log(median)) / sigma

    start_us, end_us = epoch_us(start), epoch_us(end)
    history_us = epoch_us(start - timedelta(days=HISTORY_DAYS))
    launched_in_window = rng.random(n_products) < NEW_PRODUCT_SHARE
    created_us = np.where(
        launched_in_window,
        rng.integers(start_us, max(start_us + 1, end_us - 2 * 86_400_000_000), n_products),
        rng.integers(history_us, start_us, n_products),
    ).astype(np.int64)
    created_us -= created_us % 1_000_000  # whole seconds, as a shop back-office would store
    in_stock = rng.random(n_products) >= OUT_OF_STOCK_SHARE

    words = _word_embeddings(leaves, latent_dim, rng)
    dept_centroid = rng.normal(size=(len(DEPARTMENTS), latent_dim))
    leaf_centroid = 0.8 * dept_centroid[leaf_department] + 0.6 * rng.normal(
        size=(len(leaves), latent_dim)
    )
    brand_style = rng.normal(size=(len(brands), latent_dim))

    products: list[Product] = []
    latent = np.empty((n_products, latent_dim))
    for i in range(n_products):
        leaf = leaves[item_leaf[i]]
        attributes, title_words = _attributes(leaf, rng)
        vector = leaf_centroid[item_leaf[i]] + 0.4 * brand_style[item_brand[i]]
        for word in title_words:
            vector = vector + 0.45 * words[word]
        vector = vector + 0.35 * rng.normal(size=latent_dim)
        latent[i] = vector / np.linalg.norm(vector)
        brand = brands[item_brand[i]]
        line = str(rng.choice(LINE_NAMES)) + str(rng.choice(_LINE_SUFFIXES))
        products.append(
            Product(
                id=product_id(i, n_products),
                title=_title(leaf, brand, line, attributes),
                description=_description(leaf, brand, line, attributes, rng),
                category=leaf.path,
                brand=brand,
                price=float(price[i]),
                currency="USD",
                in_stock=bool(in_stock[i]),
                attributes=attributes,
                created_at=from_epoch_us(int(created_us[i])),
            )
        )
    logger.info("built a catalog of %d products in %d leaf categories", n_products, len(leaves))
    return Catalog(
        products=products,
        leaves=leaves,
        brands=brands,
        brand_department=brand_department,
        item_leaf=item_leaf,
        item_brand=item_brand,
        price=price,
        price_z=price_z,
        created_us=created_us,
        in_stock=in_stock,
        latent=latent,
        quality=quality,
    )


def _assign_leaves(
    n_products: int, leaf_department: npt.NDArray[np.int_], rng: np.random.Generator
) -> npt.NDArray[np.intp]:
    """Uneven leaf sizes, but every leaf gets a product while there are enough to go round."""
    n_leaves = leaf_department.size
    dept_weight = np.array([d.popularity for d in DEPARTMENTS])[leaf_department]
    weight = dept_weight * rng.gamma(4.0, 1.0, n_leaves)
    weight /= weight.sum()
    head = np.arange(min(n_products, n_leaves))
    tail = rng.choice(n_leaves, size=n_products - head.size, p=weight)
    leaves = np.concatenate([head, tail]).astype(np.intp)
    rng.shuffle(leaves)
    return leaves


def _shop_price(raw: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Round like a shop does: 7.49, 119.99, 849.99."""
    small = np.round(raw, 1) - 0.01
    medium = np.round(raw) - 0.01
    large = np.round(raw, -1) - 0.01
    price = np.where(raw < 10, small, np.where(raw < 200, medium, large))
    return np.round(np.maximum(price, 0.99), 2).astype(np.float64)


def _word_embeddings(
    leaves: tuple[LeafCategory, ...], dim: int, rng: np.random.Generator
) -> dict[str, npt.NDArray[np.float64]]:
    vocabulary = sorted(
        {w for leaf in leaves for w in (*leaf.colors, *leaf.materials, *leaf.features, *leaf.kinds)}
    )
    vectors = rng.normal(size=(len(vocabulary), dim))
    return dict(zip(vocabulary, vectors, strict=True))


def _attributes(
    leaf: LeafCategory, rng: np.random.Generator
) -> tuple[dict[str, str | int | float | bool], list[str]]:
    """Attribute values for one product, and the vocabulary words that shape its latent."""
    attributes: dict[str, str | int | float | bool] = {}
    words: list[str] = []
    if leaf.gendered:
        attributes["gender"] = str(rng.choice(_GENDERS, p=_GENDER_WEIGHTS))
    if leaf.kinds:
        attributes["type"] = str(rng.choice(leaf.kinds))
        words.append(str(attributes["type"]))
    if leaf.spec is not None:
        name, values = leaf.spec
        attributes[name.replace(" ", "_")] = str(rng.choice(values))
    if leaf.materials:
        attributes["material"] = str(rng.choice(leaf.materials))
        words.append(str(attributes["material"]))
    if leaf.features:
        count = int(rng.integers(1, min(3, len(leaf.features)) + 1))
        features = [str(f) for f in rng.choice(leaf.features, size=count, replace=False)]
        attributes["features"] = ", ".join(features)
        words.extend(features)
    if leaf.colors:
        attributes["color"] = str(rng.choice(leaf.colors))
        words.append(str(attributes["color"]))
    return attributes, words


def _features(attributes: dict[str, str | int | float | bool]) -> list[str]:
    text = str(attributes.get("features", ""))
    return [f for f in text.split(", ") if f]


def _title(
    leaf: LeafCategory, brand: str, line: str, attributes: dict[str, str | int | float | bool]
) -> str:
    spec_before, spec_after = "", ""
    if leaf.spec is not None:
        value = str(attributes[leaf.spec[0].replace(" ", "_")])
        pattern = _SUFFIX_SPECS.get(leaf.spec[0])
        if pattern is None:
            spec_before = value + " "
        else:
            spec_after = " " + pattern.format(value)
    features = _features(attributes)
    parts = [
        f"{brand} {line}",
        _POSSESSIVE[str(attributes["gender"])].strip() if "gender" in attributes else "",
        spec_before.strip(),
        features[0] if features else "",
        str(attributes.get("material", "")),
        str(attributes.get("type", "")),
        leaf.noun + spec_after,
    ]
    title = " ".join(p for p in parts if p)
    if "color" in attributes:
        title += f", {attributes['color']}"
    return title


def _is_plural(phrase: str) -> bool:
    last = phrase.split()[-1] if phrase else ""
    return last.endswith("s") and not last.endswith("ss")


def _with_article(phrase: str) -> str:
    """Add "a" or "an" ("an 8-inch knife"); plurals ("running socks") take none."""
    if _is_plural(phrase):
        return phrase
    return ("an " if phrase[:1].lower() in "aeiou8" else "a ") + phrase


def _description(
    leaf: LeafCategory,
    brand: str,
    line: str,
    attributes: dict[str, str | int | float | bool],
    rng: np.random.Generator,
) -> str:
    """One to three sentences that say the same thing as the title in other words."""
    synonym = str(rng.choice((leaf.noun, *leaf.synonyms)))
    features = _features(attributes)
    lead_words = [f for f in features[:2] if f not in synonym]  # no "volumizing volumizing"
    lead = " and ".join(lead_words) + " " if lead_words else ""
    made = f" made of {attributes['material']}" if "material" in attributes else ""
    gender = str(attributes.get("gender", "unisex"))
    for_whom = f" for {gender}" if gender != "unisex" else ""
    use = str(rng.choice(leaf.uses))
    noun_phrase = lead + synonym
    this, be = ("These", "are") if _is_plural(synonym) else ("This", "is")
    described = _with_article(noun_phrase)
    openings = (
        f"{described[:1].upper()}{described[1:]}{made}{for_whom}.",
        f"The {brand} {line}: {described}{made}{for_whom}.",
        f"{this} {noun_phrase}{made} from {brand} {be} built for {use}.",
    )
    sentences = [openings[int(rng.integers(len(openings)))]]
    if rng.random() < 0.8:
        other_use = str(rng.choice([u for u in leaf.uses if u != use] or leaf.uses))
        opener = str(rng.choice(("Ideal for", "Made for", "A favourite for", "Perfect for")))
        sentences.append(f"{opener} {other_use}.")
    if rng.random() < 0.6:
        if "color" in attributes and rng.random() < 0.5:
            sentences.append(f"Comes in {attributes['color']}.")
        elif len(features) > 2:
            sentences.append(f"{features[2][:1].upper()}{features[2][1:]} as well.")
        else:
            other = str(rng.choice(leaf.synonyms))
            sentences.append(f"A {brand} take on the classic {other}.")
    return " ".join(sentences)
