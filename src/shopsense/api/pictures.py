"""Product pictures for catalogs without photos: one small SVG per product, drawn here.

A picture shows the product's kind (a silhouette picked from words of its category path:
a shoe, a laptop, a bottle...), painted in its ``color`` attribute, on a tint of its top
category, with its brand and product line written underneath. Everything is local (no
fonts or images fetched), and every catalog string is escaped.

A product whose attributes carry a photo (``image_url``, or ``image``: an ``http(s)://``
or site-relative URL) keeps it: :func:`picture_url` answers that URL instead.

Example::

    >>> from shopsense.domain import Product
    >>> p = Product(id="P1", title="Trailmark Ridge 3 trail running shoe, blue",
    ...             category="Sports > Running > Trail Running Shoes",
    ...             attributes={"color": "blue"})
    >>> picture_url(p)
    '/shop/picture/P1.svg'
    >>> product_svg(p).startswith("<svg")
    True
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote
from xml.sax.saxutils import escape

from shopsense.domain import Product

#: Attribute names that may hold a real photo of the product.
IMAGE_ATTRIBUTES = ("image_url", "image")

#: Colour words (as catalogs write them) -> paint.
PAINT: dict[str, str] = {
    "black": "#22252b", "white": "#f4f4f0", "silver": "#c0c4cc", "graphite": "#4b4f57",
    "space grey": "#6b6e74", "grey": "#8d9199", "gray": "#8d9199", "charcoal": "#3c4047",
    "blue": "#2f6fd6", "navy": "#1f2f5a", "indigo": "#3b3f9a", "green": "#2f9a5b",
    "sage green": "#9cb59a", "olive": "#6f7436", "red": "#d33b34", "ruby red": "#a3122a",
    "burgundy": "#7a1f35", "orange": "#ef7d22", "yellow": "#f2c31b", "pink": "#ee8fb5",
    "rose pink": "#e88aa0", "rose gold": "#e0b3a0", "coral": "#f27a66", "purple": "#7b4bb3",
    "plum": "#6d2f5f", "mauve": "#b07a98", "berry": "#8e2353", "beige": "#dccbaa",
    "tan": "#c9a27a", "khaki": "#b8ab7c", "nude": "#e2bfa4", "brown": "#7a4e2d",
    "black-brown": "#3a2a22", "terracotta": "#c8643f", "stainless": "#b9bec4",
    "clear": "#dce8ef", "light wash": "#8fb0d6", "dark wash": "#2e4a72",
}  # fmt: skip

#: Silhouettes on a 200 x 200 canvas, each drawn in the product's paint (``P``) and a
#: darker line (``L``). Picked by the first keyword found in the category path.
_SHAPES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("pillow", "bedding", "duvet", "blanket", "sleeping"),
     '<path d="M36 70q64-22 128 0q10 30 0 60q-64 22-128 0q-10-30 0-60z" fill="P" stroke="L"'
     ' stroke-width="4"/>'),
    (("bag", "backpack", "luggage"),
     '<path d="M78 62v-8a22 22 0 0 1 44 0v8" fill="none" stroke="L" stroke-width="6"/>'
     '<rect x="52" y="62" width="96" height="94" rx="16" fill="P" stroke="L" stroke-width="4"/>'
     '<rect x="72" y="104" width="56" height="30" rx="6" fill="none" stroke="L"'
     ' stroke-width="3"/>'),
    (("mice", "mouse"),
     '<ellipse cx="100" cy="104" rx="38" ry="56" fill="P" stroke="L" stroke-width="4"/>'
     '<path d="M100 48v40M62 88h76" fill="none" stroke="L" stroke-width="4"/>'),
    (("laptop", "computer", "notebook"),
     '<rect x="48" y="52" width="104" height="68" rx="6" fill="P" stroke="L" stroke-width="4"/>'
     '<rect x="58" y="62" width="84" height="48" rx="2" fill="#ffffff" opacity=".35"/>'
     '<path d="M32 126h136l-10 14H42z" fill="P" stroke="L" stroke-width="4"/>'),
    (("headphone", "earbud", "audio"),
     '<path d="M52 118v-18a48 48 0 0 1 96 0v18" fill="none" stroke="L" stroke-width="8"/>'
     '<rect x="40" y="106" width="26" height="40" rx="10" fill="P" stroke="L" stroke-width="4"/>'
     '<rect x="134" y="106" width="26" height="40" rx="10" fill="P" stroke="L" stroke-width="4"/>'),
    (("speaker",),
     '<rect x="62" y="44" width="76" height="112" rx="18" fill="P" stroke="L" stroke-width="4"/>'
     '<circle cx="100" cy="118" r="22" fill="none" stroke="L" stroke-width="4"/>'
     '<circle cx="100" cy="72" r="10" fill="none" stroke="L" stroke-width="4"/>'),
    (("phone", "charger", "batter", "electronic"),
     '<rect x="70" y="36" width="60" height="118" rx="12" fill="P" stroke="L" stroke-width="4"/>'
     '<rect x="78" y="48" width="44" height="88" rx="4" fill="#ffffff" opacity=".35"/>'),
    (("shoe", "sneaker", "boot"),
     '<path d="M34 128c0-18 4-34 10-44 12 6 26 6 36 0 10 18 34 26 58 30 18 3 28 8 28 20v6H34z"'
     ' fill="P" stroke="L" stroke-width="4" stroke-linejoin="round"/>'
     '<path d="M34 134h132" stroke="L" stroke-width="8"/>'),
    (("sock",),
     '<path d="M84 40h36v70l22 22a16 16 0 0 1-22 24l-36-36z" fill="P" stroke="L"'
     ' stroke-width="4" stroke-linejoin="round"/>'),
    (("shirt", "top", "jacket", "outerwear", "coat", "hoodie"),
     '<path d="M76 40l-40 22 14 30 14-8v72h72V84l14 8 14-30-40-22c-4 12-14 18-24 18s-20-6-24-18z"'
     ' fill="P" stroke="L" stroke-width="4" stroke-linejoin="round"/>'),
    (("jean", "trouser", "pant", "bottom"),
     '<path d="M66 40h68l10 120h-30l-14-78-14 78H56z" fill="P" stroke="L" stroke-width="4"'
     ' stroke-linejoin="round"/>'),
    (("belt",),
     '<rect x="24" y="88" width="152" height="24" rx="6" fill="P" stroke="L" stroke-width="4"/>'
     '<rect x="82" y="80" width="36" height="40" rx="4" fill="none" stroke="L" stroke-width="6"/>'),
    (("beauty", "skin", "hair", "makeup", "shampoo", "lipstick", "mascara", "cream"),
     '<rect x="84" y="34" width="32" height="24" rx="4" fill="L"/>'
     '<rect x="66" y="58" width="68" height="104" rx="16" fill="P" stroke="L" stroke-width="4"/>'
     '<rect x="78" y="92" width="44" height="36" rx="4" fill="#ffffff" opacity=".45"/>'),
    (("lamp", "lighting", "light"),
     '<path d="M66 48h68l16 52H50z" fill="P" stroke="L" stroke-width="4" stroke-linejoin="round"/>'
     '<path d="M100 100v44" stroke="L" stroke-width="6"/>'
     '<rect x="70" y="144" width="60" height="12" rx="4" fill="L"/>'),
    (("knife", "knives"),
     '<path d="M40 120L150 50c8 18 0 40-30 56L70 128z" fill="P" stroke="L" stroke-width="4"/>'
     '<rect x="22" y="118" width="52" height="16" rx="6" fill="L"'
     ' transform="rotate(-14 48 126)"/>'),
    (("kitchen", "cook", "pan", "coffee", "cutting board", "stove"),
     '<circle cx="90" cy="104" r="48" fill="P" stroke="L" stroke-width="4"/>'
     '<rect x="134" y="96" width="46" height="14" rx="6" fill="L"/>'),
    (("tent", "camp"),
     '<path d="M100 44L30 152h140z" fill="P" stroke="L" stroke-width="4" stroke-linejoin="round"/>'
     '<path d="M100 96l-22 56h44z" fill="L" opacity=".6"/>'),
    (("yoga", "mat"),
     '<rect x="40" y="84" width="120" height="56" rx="10" fill="P" stroke="L" stroke-width="4"/>'
     '<circle cx="150" cy="112" r="26" fill="P" stroke="L" stroke-width="4"/>'),
    (("dumbbell", "fitness", "weight"),
     '<rect x="60" y="92" width="80" height="16" rx="4" fill="L"/>'
     '<rect x="36" y="64" width="28" height="72" rx="6" fill="P" stroke="L" stroke-width="4"/>'
     '<rect x="136" y="64" width="28" height="72" rx="6" fill="P" stroke="L" stroke-width="4"/>'),
    (("toy", "block", "puzzle", "game", "doll", "car", "vehicle"),
     '<rect x="40" y="96" width="56" height="56" rx="6" fill="P" stroke="L" stroke-width="4"/>'
     '<rect x="104" y="96" width="56" height="56" rx="6" fill="P" stroke="L" stroke-width="4"/>'
     '<rect x="72" y="40" width="56" height="56" rx="6" fill="P" stroke="L" stroke-width="4"/>'),
)  # fmt: skip
_BOX = (
    '<path d="M100 38l58 28v68l-58 28-58-28V66z" fill="P" stroke="L" stroke-width="4"'
    ' stroke-linejoin="round"/><path d="M42 66l58 28 58-28M100 94v68" fill="none" stroke="L"'
    ' stroke-width="4"/>'
)


def picture_url(product: Product) -> str:
    """Where the product's picture is: its own photo when it has one, else its SVG here."""
    for name in IMAGE_ATTRIBUTES:
        value = product.attributes.get(name)
        # (a protocol-relative "//host/x.jpg" is another site's: not the shop's photo)
        local = isinstance(value, str) and value.startswith("/") and not value.startswith("//")
        if isinstance(value, str) and (value.startswith(("https://", "http://")) or local):
            return value
    return f"/shop/picture/{quote(product.id, safe='')}.svg"


def _hue(text: str) -> int:
    """A stable hue (0..359) for ``text``."""
    return int.from_bytes(hashlib.blake2s(text.encode(), digest_size=2).digest()) % 360


def paint_of(product: Product) -> str:
    """The product's colour as a CSS colour: its ``color`` attribute's paint, or a hue
    derived from the colour word (or the title) when the word is unknown."""
    colour = str(product.attributes.get("color", "")).strip().lower()
    if colour in PAINT:
        return PAINT[colour]
    return f"hsl({_hue(colour or product.title)} 55% 52%)"


def _shape(product: Product) -> str:
    """The silhouette of the first keyword in the category's leaf, else in its path."""
    leaf = product.category[-1].lower() if product.category else product.title.lower()
    for text in (leaf, " ".join(product.category).lower()):
        for keywords, shape in _SHAPES:
            if any(k in text for k in keywords):
                return shape
    return _BOX


def _label(product: Product) -> tuple[str, str]:
    """The two lines written under the picture: the name (brand and line, or the title's
    first words) and the kind (the category's leaf)."""
    words = product.title.split(",")[0].split()
    name = " ".join(words[:3])
    kind = product.category[-1] if product.category else ""
    return name[:28], kind[:30]


def product_svg(product: Product) -> str:
    """The product's picture, an SVG document (400 x 400 px, scalable)."""
    hue = _hue(product.category[0] if product.category else product.title)
    paint = paint_of(product)
    name, kind = _label(product)
    shape = _shape(product).replace('"P"', f'"{paint}"').replace('"L"', '"#1d2330"')
    if str(product.attributes.get("color", "")).lower() == "multicolour":
        shape = shape.replace(f'"{paint}"', '"url(#multi)"')
    title = escape(product.title)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200" width="400" height="400"'
        f' role="img" aria-label="{escape(product.title, {chr(34): "&quot;"})}">'
        f"<title>{title}</title>"
        "<defs>"
        f'<linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="hsl({hue} 60% 94%)"/>'
        f'<stop offset="1" stop-color="hsl({(hue + 30) % 360} 55% 84%)"/></linearGradient>'
        '<linearGradient id="multi" x1="0" y1="0" x2="1" y2="0">'
        '<stop offset="0" stop-color="#e94b3c"/><stop offset=".33" stop-color="#f2c31b"/>'
        '<stop offset=".66" stop-color="#2f9a5b"/><stop offset="1" stop-color="#2f6fd6"/>'
        "</linearGradient></defs>"
        '<rect width="200" height="200" fill="url(#bg)"/>'
        f'<ellipse cx="100" cy="160" rx="64" ry="7" fill="hsl({hue} 30% 60%)" opacity=".35"/>'
        f'<g transform="translate(0 -6)">{shape}</g>'
        '<g font-family="system-ui, sans-serif" text-anchor="middle" fill="#1d2330">'
        f'<text x="100" y="176" font-size="12" font-weight="700">{escape(name)}</text>'
        f'<text x="100" y="191" font-size="9" opacity=".7">{escape(kind)}</text>'
        "</g></svg>"
    )
