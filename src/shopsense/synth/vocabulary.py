"""The sample shop's words: departments, brands, leaf categories and complements.

Pure data. :mod:`shopsense.synth.catalog` composes titles and descriptions from it, and
:mod:`shopsense.synth.sessions` builds search queries from the same words, so that text
search and semantic similarity find what the shoppers were after.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Department:
    """A top-level department with its (invented) brands, most popular first."""

    name: str
    brands: tuple[str, ...]
    popularity: float


@dataclass(frozen=True)
class LeafCategory:
    """One leaf of the category tree and the vocabulary its products are described with.

    ``noun`` names the product in titles; ``synonyms`` vary descriptions and queries.
    Prices are log-normal around ``median_price`` with log-spread ``price_sigma``.
    ``spec`` is one defining attribute (name, values), e.g. ``("capacity", ("2-person",))``.
    ``multi_buy`` marks cheap consumables bought in quantities above one.
    """

    path: str
    noun: str
    synonyms: tuple[str, ...]
    median_price: float
    price_sigma: float
    colors: tuple[str, ...] = ()
    materials: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    spec: tuple[str, tuple[str, ...]] | None = None
    gendered: bool = False
    uses: tuple[str, ...] = field(default=("everyday use",))
    multi_buy: bool = False

    @property
    def department(self) -> str:
        return self.path.split(" > ")[0]


DEPARTMENTS: tuple[Department, ...] = (
    Department("Electronics", ("Brightwave", "Voltway", "Nexora", "Lumio", "Corefield",
                               "Pulsewire", "Auralis"), 1.4),
    Department("Home", ("Hearthly", "Edgecraft", "Oakhaven", "Copperleaf", "Nestwell",
                        "Brewmont", "Linenloft"), 1.1),
    Department("Beauty", ("Dewbloom", "Purelle", "Velvetine", "Skinsmith", "Mirabel", "Glowra",
                          "Saltleaf"), 0.9),
    Department("Sports", ("Trailmark", "Stormline", "Peakform", "Ridgeback", "Swiftstride",
                          "Ironform", "Northpass"), 1.0),
    Department("Toys", ("Brickwise", "Playnest", "Tinkertown", "Wonderloop", "Puzzlecraft",
                        "Zoomkid"), 0.7),
    Department("Fashion", ("Threadline", "Urbanfolk", "Denimark", "Northloom", "Kestrel",
                           "Softfield", "Ashby"), 1.3),
)  # fmt: skip

#: Product-line names; a title reads "Trailmark Ridge 3 men's waterproof trail running shoe".
LINE_NAMES: tuple[str, ...] = (
    "Ridge", "Summit", "Pulse", "Nova", "Aero", "Flux", "Terra", "Vista", "Core", "Edge",
    "Luxe", "Orbit", "Drift", "Zen", "Bolt", "Haven", "Echo", "Atlas", "Breeze", "Crest",
    "Ember", "Glide", "Halo", "Nimbus", "Quest", "Sierra", "Tempo", "Vale", "Wave", "Zephyr",
)  # fmt: skip

_TECH = ("black", "white", "silver", "graphite", "blue", "green", "rose gold")
_SPORT = ("black", "blue", "red", "grey", "green", "orange", "yellow", "navy")
_HOME = ("white", "grey", "beige", "sage green", "navy", "terracotta", "charcoal")
_FASHION = ("black", "white", "navy", "olive", "beige", "grey", "burgundy", "khaki")
_TOY = ("red", "blue", "yellow", "pink", "green", "multicolour")
_SKIN = ("skin type", ("dry", "oily", "sensitive", "combination", "normal"))
_SCREEN = ("screen", ("13-inch", "14-inch", "15-inch", "16-inch"))

LEAVES: tuple[LeafCategory, ...] = (
    # Electronics
    LeafCategory(
        "Electronics > Phones > Smartphones", "smartphone",
        ("mobile phone", "cell phone", "phone", "android phone"), 480, 0.5, _TECH,
        ("aluminium", "glass"), ("5G", "dual-SIM", "water-resistant", "fast-charging"),
        spec=("storage", ("64GB", "128GB", "256GB", "512GB")),
        uses=("photos on the go", "all-day streaming", "staying connected"),
    ),
    LeafCategory(
        "Electronics > Phones > Phone Cases", "phone case",
        ("phone cover", "smartphone case", "protective case", "bumper case"), 19, 0.4,
        (*_TECH, "clear", "purple"), ("silicone", "leather", "TPU", "polycarbonate"),
        ("shockproof", "slim", "magnetic", "drop-tested"),
        uses=("everyday drops", "keeping your phone scratch-free"),
    ),
    LeafCategory(
        "Electronics > Phones > Chargers", "charger",
        ("charging adapter", "power adapter", "wall charger", "phone charger"), 24, 0.4,
        ("black", "white"), (), ("fast-charging", "USB-C", "wireless", "dual-port", "compact"),
        spec=("wattage", ("20W", "30W", "45W", "65W")),
        uses=("topping up overnight", "travel"), multi_buy=True,
    ),
    LeafCategory(
        "Electronics > Power > Batteries", "batteries",
        ("battery", "rechargeable batteries", "alkaline batteries", "cells"), 12, 0.4,
        (), (), ("rechargeable", "long-lasting", "alkaline", "leak-proof"), ("AA", "AAA", "9V"),
        spec=("pack size", ("4-pack", "8-pack", "12-pack", "24-pack")),
        uses=("remote controls", "toys and gadgets"), multi_buy=True,
    ),
    LeafCategory(
        "Electronics > Audio > Headphones", "headphones",
        ("headset", "over-ear headphones", "cans", "earphones"), 110, 0.7, _TECH,
        ("plastic", "aluminium", "leather"),
        ("wireless", "noise-cancelling", "foldable", "bluetooth", "hi-res"),
        ("over-ear", "on-ear"), uses=("commuting", "long flights", "studio listening"),
    ),
    LeafCategory(
        "Electronics > Audio > Earbuds", "earbuds",
        ("wireless earbuds", "in-ear headphones", "earphones", "true wireless buds"), 75, 0.6,
        _TECH, (), ("wireless", "noise-cancelling", "sweat-proof", "bluetooth"),
        uses=("workouts", "commuting", "calls on the move"),
    ),
    LeafCategory(
        "Electronics > Audio > Bluetooth Speakers", "bluetooth speaker",
        ("portable speaker", "wireless speaker", "speaker", "outdoor speaker"), 65, 0.6,
        _SPORT, ("fabric", "rubber"), ("waterproof", "portable", "wireless", "rugged"),
        uses=("beach days", "backyard parties", "the shower"),
    ),
    LeafCategory(
        "Electronics > Computers > Laptops", "laptop",
        ("notebook", "notebook computer", "ultrabook", "computer"), 850, 0.45,
        ("silver", "space grey", "black", "blue"), ("aluminium", "magnesium"),
        ("lightweight", "touchscreen", "backlit", "long-battery", "2-in-1"), spec=_SCREEN,
        uses=("work and study", "gaming after hours", "working on the go"),
    ),
    LeafCategory(
        "Electronics > Computers > Laptop Bags", "laptop bag",
        ("laptop sleeve", "computer bag", "messenger bag", "laptop case"), 45, 0.45,
        ("black", "grey", "navy", "brown"), ("nylon", "leather", "canvas", "neoprene"),
        ("padded", "water-resistant", "slim", "anti-theft"), spec=_SCREEN,
        uses=("commuting", "business travel"),
    ),
    LeafCategory(
        "Electronics > Computers > Computer Mice", "mouse",
        ("computer mouse", "wireless mouse", "gaming mouse", "mice"), 28, 0.55,
        ("black", "white", "grey"), (), ("wireless", "ergonomic", "silent", "rechargeable"),
        uses=("long office days", "gaming"),
    ),
    # Home
    LeafCategory(
        "Home > Kitchen > Knives", "knife",
        ("chef knife", "kitchen knife", "cooking knife", "blade"), 55, 0.6, (),
        ("stainless steel", "carbon steel", "Damascus steel", "ceramic"),
        ("forged", "razor-sharp", "full-tang", "dishwasher-safe"),
        ("chef's", "santoku", "paring", "bread", "utility"),
        spec=("blade length", ("3.5-inch", "6-inch", "8-inch", "10-inch")),
        uses=("dicing vegetables", "slicing meat", "everyday prep"),
    ),
    LeafCategory(
        "Home > Kitchen > Cutting Boards", "cutting board",
        ("chopping board", "butcher block", "carving board", "prep board"), 30, 0.45, (),
        ("bamboo", "walnut", "maple", "acacia", "plastic"),
        ("reversible", "non-slip", "dishwasher-safe", "end-grain"),
        spec=("size", ("small", "medium", "large")), uses=("chopping herbs", "carving roasts"),
    ),
    LeafCategory(
        "Home > Kitchen > Cookware", "pan",
        ("skillet", "frying pan", "cookware", "pot"), 80, 0.55, (),
        ("cast iron", "stainless steel", "nonstick", "copper", "carbon steel"),
        ("induction-ready", "oven-safe", "pre-seasoned", "PFOA-free"),
        ("frying", "sauté", "grill", "wok-style"),
        spec=("diameter", ("8-inch", "10-inch", "12-inch")),
        uses=("searing steak", "weeknight stir-fries"),
    ),
    LeafCategory(
        "Home > Kitchen > Coffee Makers", "coffee maker",
        ("coffee machine", "espresso machine", "brewer", "drip coffee maker"), 110, 0.65,
        ("black", "stainless", "white", "red"), ("stainless steel", "plastic"),
        ("programmable", "thermal-carafe", "single-serve", "compact"),
        uses=("morning brews", "espresso at home"),
    ),
    LeafCategory(
        "Home > Bedding > Duvet Covers", "duvet cover",
        ("comforter cover", "quilt cover", "duvet set", "bedding set"), 60, 0.4, _HOME,
        ("cotton", "linen", "percale", "sateen", "bamboo"),
        ("breathable", "wrinkle-resistant", "organic", "hypoallergenic"),
        spec=("size", ("twin", "full", "queen", "king")),
        uses=("cool summer nights", "cosy winters"),
    ),
    LeafCategory(
        "Home > Bedding > Pillows", "pillow",
        ("bed pillow", "sleeping pillow", "cushion", "memory foam pillow"), 35, 0.45, (),
        ("memory foam", "down", "down-alternative", "latex"),
        ("hypoallergenic", "cooling", "adjustable", "washable"),
        spec=("size", ("standard", "queen", "king")),
        uses=("side sleepers", "back sleepers"), multi_buy=True,
    ),
    LeafCategory(
        "Home > Lighting > Table Lamps", "table lamp",
        ("desk lamp", "bedside lamp", "lamp", "reading light"), 50, 0.5, _HOME,
        ("ceramic", "brass", "wood", "glass", "rattan"),
        ("dimmable", "LED", "touch-control", "USB-charging"),
        uses=("bedside reading", "cosy living rooms"),
    ),
    # Beauty
    LeafCategory(
        "Beauty > Skincare > Moisturizers", "moisturizer",
        ("face cream", "moisturiser", "day cream", "hydrating cream", "lotion"), 26, 0.5, (),
        (), ("fragrance-free", "hyaluronic", "vegan", "non-comedogenic"), spec=_SKIN,
        uses=("dry winter skin", "daily hydration"),
    ),
    LeafCategory(
        "Beauty > Skincare > Cleansers", "cleanser",
        ("face wash", "facial cleanser", "cleansing gel", "cleansing foam"), 17, 0.45, (), (),
        ("gentle", "foaming", "fragrance-free", "exfoliating", "vegan"), spec=_SKIN,
        uses=("removing makeup", "morning routines"),
    ),
    LeafCategory(
        "Beauty > Skincare > Sunscreen", "sunscreen",
        ("sunblock", "sun cream", "SPF lotion", "sun protection"), 19, 0.4, (), (),
        ("water-resistant", "mineral", "reef-safe", "non-greasy"),
        spec=("SPF", ("SPF 30", "SPF 50", "SPF 50+")),
        uses=("beach days", "daily city wear"), multi_buy=True,
    ),
    LeafCategory(
        "Beauty > Makeup > Lipstick", "lipstick",
        ("lip colour", "lip stick", "lip tint", "lip color"), 21, 0.45,
        ("ruby red", "nude", "coral", "berry", "mauve", "rose pink", "plum"), (),
        ("matte", "long-lasting", "satin", "hydrating", "vegan"),
        uses=("date nights", "everyday wear"),
    ),
    LeafCategory(
        "Beauty > Makeup > Mascara", "mascara",
        ("lash mascara", "volumizing mascara", "lash definer"), 18, 0.4,
        ("black", "brown", "black-brown"), (),
        ("waterproof", "volumizing", "lengthening", "smudge-proof"),
        uses=("long workdays", "everyday wear"),
    ),
    LeafCategory(
        "Beauty > Hair > Shampoo", "shampoo",
        ("hair wash", "cleansing shampoo", "hair shampoo"), 14, 0.45, (), (),
        ("sulfate-free", "volumizing", "anti-dandruff", "color-safe", "moisturizing"),
        spec=("hair type", ("dry", "oily", "curly", "fine", "normal")),
        uses=("daily washing", "curly hair care"), multi_buy=True,
    ),
    LeafCategory(
        "Beauty > Hair > Hair Dryers", "hair dryer",
        ("blow dryer", "hairdryer", "blow-dryer", "dryer"), 75, 0.6,
        ("black", "white", "pink", "rose gold"), (),
        ("ionic", "lightweight", "foldable", "quiet"),
        spec=("wattage", ("1600W", "1875W", "2000W")), uses=("quick mornings", "travel"),
    ),
    # Sports
    LeafCategory(
        "Sports > Running > Trail Running Shoes", "trail running shoe",
        ("trail runner", "trail shoe", "off-road running shoe", "trail sneaker"), 120, 0.3,
        _SPORT, ("mesh", "synthetic", "knit"),
        ("waterproof", "grippy", "lightweight", "cushioned", "breathable"), gendered=True,
        uses=("muddy mountain trails", "rocky ultras", "weekend trail runs"),
    ),
    LeafCategory(
        "Sports > Running > Road Running Shoes", "running shoe",
        ("road runner", "running sneaker", "jogging shoe", "runner"), 110, 0.3, _SPORT,
        ("mesh", "knit", "synthetic"),
        ("cushioned", "lightweight", "responsive", "breathable", "stable"), gendered=True,
        uses=("marathon training", "daily jogs", "tempo runs"),
    ),
    LeafCategory(
        "Sports > Running > Running Socks", "running socks",
        ("athletic socks", "sport socks", "trail socks", "socks"), 14, 0.35, _SPORT,
        ("merino wool", "synthetic", "cotton blend"),
        ("moisture-wicking", "cushioned", "blister-free", "no-show", "compression"),
        gendered=True, uses=("long runs", "hot summer miles"), multi_buy=True,
    ),
    LeafCategory(
        "Sports > Camping > Tents", "tent",
        ("camping tent", "backpacking tent", "shelter", "dome tent"), 170, 0.6,
        ("green", "orange", "grey", "yellow", "blue"), ("nylon", "polyester", "ripstop nylon"),
        ("waterproof", "ultralight", "freestanding", "quick-pitch", "4-season"),
        spec=("capacity", ("1-person", "2-person", "3-person", "4-person", "6-person")),
        uses=("backpacking trips", "family camping", "festival weekends"),
    ),
    LeafCategory(
        "Sports > Camping > Sleeping Bags", "sleeping bag",
        ("sleep bag", "camping sleeping bag", "mummy bag", "bedroll"), 85, 0.5,
        ("green", "blue", "red", "grey"), ("down", "synthetic"),
        ("lightweight", "compressible", "3-season", "water-resistant"),
        spec=("temperature rating", ("5°C", "0°C", "-5°C", "-10°C")),
        uses=("cold nights under the stars", "backpacking trips"),
    ),
    LeafCategory(
        "Sports > Camping > Camping Stoves", "camping stove",
        ("backpacking stove", "camp stove", "gas stove", "portable stove"), 55, 0.45, (),
        ("titanium", "stainless steel", "aluminium"),
        ("ultralight", "windproof", "compact", "piezo-ignition"),
        uses=("boiling water at camp", "trail cooking"),
    ),
    LeafCategory(
        "Sports > Fitness > Yoga Mats", "yoga mat",
        ("exercise mat", "fitness mat", "pilates mat", "workout mat"), 30, 0.45, _SPORT,
        ("TPE", "natural rubber", "PVC", "cork"),
        ("non-slip", "extra-thick", "eco-friendly", "lightweight"),
        spec=("thickness", ("4mm", "6mm", "8mm")), uses=("hot yoga", "home workouts"),
    ),
    LeafCategory(
        "Sports > Fitness > Dumbbells", "dumbbell",
        ("hand weight", "free weight", "weights", "dumbbell set"), 55, 0.6, (),
        ("cast iron", "neoprene", "rubber-coated", "chrome"),
        ("adjustable", "hex", "non-roll", "knurled"),
        spec=("weight", ("2 kg", "5 kg", "10 kg", "20 kg")),
        uses=("strength training", "home gyms"), multi_buy=True,
    ),
    # Toys
    LeafCategory(
        "Toys > Building > Building Block Sets", "building block set",
        ("construction set", "building bricks", "brick set", "building kit"), 40, 0.7, (), (),
        ("STEM", "glow-in-the-dark", "motorised", "creative"), ("castle", "space", "city"),
        spec=("pieces", ("250-piece", "500-piece", "1000-piece")),
        uses=("rainy afternoons", "budding engineers"),
    ),
    LeafCategory(
        "Toys > Puzzles > Jigsaw Puzzles", "jigsaw puzzle",
        ("puzzle", "jigsaw", "picture puzzle"), 19, 0.4, (), ("cardboard", "wood"),
        ("challenging", "glossy", "eco-friendly"), ("landscape", "animal", "map", "art"),
        spec=("pieces", ("300-piece", "500-piece", "1000-piece", "1500-piece")),
        uses=("quiet evenings", "family game nights"),
    ),
    LeafCategory(
        "Toys > Dolls > Dolls", "doll",
        ("fashion doll", "baby doll", "play doll", "dollhouse doll"), 28, 0.5, _TOY,
        ("vinyl", "cloth", "porcelain"), ("posable", "soft-bodied", "collectible"),
        uses=("pretend play", "collectors"),
    ),
    LeafCategory(
        "Toys > Vehicles > Remote Control Cars", "remote control car",
        ("RC car", "radio controlled car", "rc truck", "toy car"), 55, 0.6, _TOY, (),
        ("off-road", "high-speed", "rechargeable", "waterproof", "4WD"),
        spec=("scale", ("1:10", "1:16", "1:24")), uses=("backyard racing", "muddy parks"),
    ),
    LeafCategory(
        "Toys > Games > Board Games", "board game",
        ("family game", "tabletop game", "strategy game", "party game"), 32, 0.45, (), (),
        ("cooperative", "strategic", "family-friendly", "quick-play"),
        spec=("players", ("2-4 players", "2-6 players", "3-8 players")),
        uses=("game nights", "family weekends"),
    ),
    # Fashion
    LeafCategory(
        "Fashion > Tops > T-Shirts", "t-shirt",
        ("tee", "t shirt", "tshirt", "crew neck tee"), 22, 0.4, _FASHION,
        ("cotton", "organic cotton", "linen", "polyester blend"),
        ("slim-fit", "relaxed-fit", "crew-neck", "v-neck", "breathable"), gendered=True,
        uses=("summer days", "layering"), multi_buy=True,
    ),
    LeafCategory(
        "Fashion > Bottoms > Jeans", "jeans",
        ("denim", "denim jeans", "pants", "trousers"), 65, 0.4,
        ("indigo", "black", "light wash", "dark wash", "grey"),
        ("stretch denim", "rigid denim", "organic cotton"),
        ("slim", "straight-leg", "skinny", "high-rise", "relaxed"), gendered=True,
        uses=("everyday wear", "weekends"),
    ),
    LeafCategory(
        "Fashion > Accessories > Belts", "belt",
        ("leather belt", "waist belt", "dress belt", "casual belt"), 30, 0.45,
        ("black", "brown", "tan", "navy"), ("leather", "canvas", "vegan leather", "suede"),
        ("reversible", "braided", "adjustable"), gendered=True,
        uses=("office outfits", "jeans and chinos"),
    ),
    LeafCategory(
        "Fashion > Accessories > Backpacks", "backpack",
        ("rucksack", "daypack", "bag", "school bag"), 60, 0.5, _FASHION,
        ("nylon", "canvas", "leather", "recycled polyester"),
        ("water-resistant", "anti-theft", "lightweight", "roll-top"),
        spec=("capacity", ("15L", "20L", "25L", "30L")), uses=("commuting", "city breaks"),
    ),
    LeafCategory(
        "Fashion > Outerwear > Rain Jackets", "rain jacket",
        ("raincoat", "waterproof jacket", "shell jacket", "anorak"), 110, 0.45, _FASHION,
        ("nylon", "Gore-Tex", "polyester", "recycled nylon"),
        ("waterproof", "packable", "breathable", "hooded", "windproof"), gendered=True,
        uses=("rainy commutes", "hiking in the wet"),
    ),
    LeafCategory(
        "Fashion > Shoes > Sneakers", "sneaker",
        ("trainer", "casual shoe", "sneakers", "kicks"), 85, 0.4, _FASHION,
        ("leather", "canvas", "suede", "knit"),
        ("lightweight", "slip-on", "platform", "retro", "cushioned"), gendered=True,
        uses=("city walks", "casual Fridays"),
    ),
)  # fmt: skip

#: Leaf -> leaves whose products are bought with it (a phone, then a case or a charger).
COMPLEMENTS: dict[str, tuple[str, ...]] = {
    "Electronics > Phones > Smartphones": (
        "Electronics > Phones > Phone Cases",
        "Electronics > Phones > Chargers",
    ),
    "Electronics > Computers > Laptops": (
        "Electronics > Computers > Laptop Bags",
        "Electronics > Computers > Computer Mice",
    ),
    "Toys > Vehicles > Remote Control Cars": ("Electronics > Power > Batteries",),
    "Home > Kitchen > Knives": ("Home > Kitchen > Cutting Boards",),
    "Home > Kitchen > Cookware": ("Home > Kitchen > Knives",),
    "Home > Bedding > Duvet Covers": ("Home > Bedding > Pillows",),
    "Sports > Camping > Tents": (
        "Sports > Camping > Sleeping Bags",
        "Sports > Camping > Camping Stoves",
    ),
    "Sports > Running > Trail Running Shoes": ("Sports > Running > Running Socks",),
    "Sports > Running > Road Running Shoes": ("Sports > Running > Running Socks",),
    "Beauty > Skincare > Cleansers": ("Beauty > Skincare > Moisturizers",),
    "Beauty > Skincare > Moisturizers": ("Beauty > Skincare > Sunscreen",),
    "Beauty > Makeup > Lipstick": ("Beauty > Makeup > Mascara",),
    "Fashion > Bottoms > Jeans": ("Fashion > Accessories > Belts",),
    "Fashion > Tops > T-Shirts": ("Fashion > Bottoms > Jeans",),
}  # fmt: skip
