"""Reader for the UniSRec / RecBole downstream layout (e.g. ``Scientific``).

A folder holds, for a dataset ``<Name>``:

- ``<Name>.text``: TSV, header ``item_id:token  text:token_seq``: the ASIN and the text
  ``"<title>. <categories>. <brand>. "`` (an empty part leaves ``". . "``);
- ``<Name>.item2index`` / ``<Name>.user2index``: ``ASIN<TAB>index`` and
  ``reviewerID<TAB>index`` (optional; without them the indices are the ids);
- ``<Name>.{train,valid,test}.inter``: header
  ``user_id:token  item_id_list:token_seq  item_id:token``, one row per prediction: the
  history (the last 50 items at most) and the target.

Each user's full sequence is rebuilt from all rows, not from the longest one alone: the
row predicting position ``p`` has history ``seq[max(0, p - L):p]`` (``L`` the history
limit), so starting from the shortest history and repeatedly looking up the row whose
history is the last ``L`` items so far recovers every item, also those the test row's
truncated history dropped.

Products: id = ASIN, title / category / brand parsed from the text (see
:func:`parse_item_text`), description = the whole text. Events: one ``purchase`` per item
at synthesized times, as for the other sequence datasets (:func:`.base.sequence_events`).

Example::

    >>> ds = read_unisrec(Path("../shared/datasets/amazon-scientific"))  # doctest: +SKIP
    >>> ds.name  # doctest: +SKIP
    'Scientific'
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from shopsense.domain import Event, Product
from shopsense.errors import UnknownFormatError, ValidationError

from .base import Dataset, Stream, build, ordered_ids, require_path, sequence_events

logger = logging.getLogger(__name__)

UNISREC = "unisrec"
SPLITS = ("train", "valid", "test")
_TITLE_LIMIT = 1000  # Product.title's maximum length

#: One ``.inter`` row: (history, target, file name, line number).
_Row = tuple[tuple[str, ...], str, str, int]


@dataclass(frozen=True)
class ItemText:
    """The parts of a UniSRec item text."""

    title: str
    category: tuple[str, ...]
    brand: str | None


@dataclass(frozen=True)
class _Files:
    name: str
    text: Path
    item2index: Path
    user2index: Path
    inters: tuple[Path, ...]


def read_unisrec_sequences(path: Path) -> dict[str, list[str]]:
    """User (reviewerID) -> item ASINs in order, rebuilt from all ``.inter`` rows."""
    files = _locate(path)
    items = _read_index(files.item2index)
    users = _read_index(files.user2index)
    sequences: dict[str, list[str]] = {}
    for user, indices in _rebuild(files).items():
        unknown = [i for i in indices if items and i not in items]
        if unknown:
            raise ValidationError(
                files.item2index.name,
                0,
                "index",
                f"item index {unknown[0]} (user {user}) is missing; the .inter files and "
                f"{files.item2index.name} come from different versions of the dataset",
            )
        sequences[users.get(user, user)] = [items.get(i, i) for i in indices]
    return sequences


def read_unisrec(path: Path) -> Dataset:
    """Products (with text) and purchase events of a UniSRec dataset folder or file."""
    files = _locate(path)

    def products() -> Iterator[Product]:
        texts = _read_texts(files.text)
        root = detect_category_root(texts.values())
        asins = ordered_ids([*_read_index(files.item2index).values(), *texts])
        for row, asin in enumerate(asins, start=1):
            text = texts.get(asin, "").strip()
            if not text:
                yield build(Product, files.text.name, row, id=asin, title=f"{files.name} {asin}")
                continue
            parts = parse_item_text(text, root)
            yield build(
                Product,
                files.text.name,
                row,
                id=asin,
                title=parts.title[:_TITLE_LIMIT] or asin,
                description=text,
                category=parts.category,
                brand=parts.brand,
            )

    def events() -> Iterator[Event]:
        return sequence_events(UNISREC, files.name, files.name, read_unisrec_sequences(path))

    return Dataset(name=files.name, products=Stream(products), events=Stream(events))


def parse_item_text(text: str, category_root: str | None = None) -> ItemText:
    """Split ``"<title>. <categories>. <brand>. "`` into its parts.

    Titles and brands may hold ``". "`` themselves (``"Mr. Heater"``), so the category is
    found by its root (``"Industrial & Scientific"``, see :func:`detect_category_root`);
    without a root, or when the category is empty, the first empty part or else the last
    two parts mark it. The category levels are joined by spaces in the text and cannot be
    told apart, so the category is ``(root, rest)``.

    >>> parse_item_text("Mr. Heater Hose. Tools & Home Hoses. Mr. Heater. ", "Tools & Home")
    ItemText(title='Mr. Heater Hose', category=('Tools & Home', 'Hoses'), brand='Mr. Heater')
    """
    body = text.strip()
    if body.endswith("."):
        body = body[:-1]
    parts = [p.strip() for p in body.split(". ")]
    if len(parts) < 3:
        return ItemText(title=body.strip(), category=(), brand=None)
    at = None
    if category_root:
        at = next((i for i in range(1, len(parts)) if _has_root(parts[i], category_root)), None)
    if at is None:
        empty = next((i for i in range(1, len(parts) - 1) if not parts[i]), None)
        at = empty if empty is not None else len(parts) - 2
    title = ". ".join(parts[:at])
    brand = ". ".join(parts[at + 1 :]).strip() or None
    return ItemText(title=title, category=_category(parts[at], category_root), brand=brand)


def detect_category_root(texts: Iterable[str]) -> str | None:
    """The top category shared by (nearly) all items, e.g. ``"Industrial & Scientific"``.

    Read from texts whose layout is unambiguous (exactly three parts): the longest leading
    run of words that at least 90% of their categories start with.
    """
    categories: list[list[str]] = []
    for text in texts:
        parts = text.strip().removesuffix(".").split(". ")
        if len(parts) == 3 and parts[1].strip():
            categories.append(parts[1].split())
    root: str | None = None
    for size in range(1, 8):
        counts = Counter(" ".join(words[:size]) for words in categories if len(words) >= size)
        if not counts:
            break
        prefix, count = counts.most_common(1)[0]
        if count < 0.9 * len(categories):
            break
        root = prefix
    return root


def _has_root(part: str, root: str) -> bool:
    return part == root or part.startswith(root + " ")


def _category(part: str, root: str | None) -> tuple[str, ...]:
    if not part:
        return ()
    if root and _has_root(part, root):
        rest = part[len(root) :].strip()
        return (root, rest) if rest else (root,)
    return (part,)


def _locate(path: Path) -> _Files:
    """The dataset's files, from its folder or any one of its files."""
    require_path(path, UNISREC)
    if path.is_file():
        folder, name = path.parent, path.name.split(".")[0]
    else:
        folder = path
        stems = sorted({p.name.split(".")[0] for p in path.glob("*.inter")})
        if len(stems) != 1:
            found = ", ".join(stems) if stems else "no *.inter files"
            raise UnknownFormatError(
                f"{path} must hold the .inter files of one UniSRec dataset ({found}); "
                "pass one of its files, e.g. <Name>.text"
            )
        name = stems[0]
    inters = tuple(p for split in SPLITS if (p := folder / f"{name}.{split}.inter").is_file())
    if not inters:
        raise UnknownFormatError(
            f"no {name}.{{train,valid,test}}.inter next to {path}; a UniSRec dataset needs "
            "at least one of them"
        )
    return _Files(
        name=name,
        text=folder / f"{name}.text",
        item2index=folder / f"{name}.item2index",
        user2index=folder / f"{name}.user2index",
        inters=inters,
    )


def _read_index(file: Path) -> dict[str, str]:
    """index -> original id from ``<id><TAB><index>`` lines; empty when the file is absent."""
    if not file.is_file():
        return {}
    mapping: dict[str, str] = {}
    with file.open(encoding="utf-8") as lines:
        for row, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != 2:
                raise ValidationError(file.name, row, "line", "expected '<id><TAB><index>'")
            mapping[fields[1].strip()] = fields[0].strip()
    return mapping


def _read_texts(file: Path) -> dict[str, str]:
    """ASIN -> text from ``<Name>.text``; empty when the file is absent."""
    if not file.is_file():
        logger.info("%s not found: products get stub titles", file)
        return {}
    texts: dict[str, str] = {}
    with file.open(encoding="utf-8") as lines:
        for row, line in enumerate(lines, start=1):
            fields = line.rstrip("\r\n").split("\t")
            if row == 1 and fields[0].startswith("item_id"):
                continue
            if len(fields) != 2:
                raise ValidationError(file.name, row, "line", "expected '<ASIN><TAB><text>'")
            texts[fields[0].strip()] = fields[1]
    return texts


def _rebuild(files: _Files) -> dict[str, list[str]]:
    """User index -> full item-index sequence, from the rows of every ``.inter`` file."""
    rows: dict[str, list[_Row]] = {}
    limit = 0
    for file in files.inters:
        with file.open(encoding="utf-8") as lines:
            header = next(lines, "").rstrip("\r\n").split("\t")
            columns = _columns(file, header)
            for row, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                fields = line.rstrip("\r\n").split("\t")
                if len(fields) != len(header):
                    raise ValidationError(
                        file.name, row, "line", f"expected {len(header)} tab-separated fields"
                    )
                user, target = fields[columns[0]].strip(), fields[columns[2]].strip()
                history = tuple(fields[columns[1]].split())
                limit = max(limit, len(history))
                rows.setdefault(user, []).append((history, target, file.name, row))
    return {user: _chain(user, rows[user], limit) for user in ordered_ids(rows)}


def _chain(user: str, rows: list[_Row], limit: int) -> list[str]:
    """Rebuild one user's sequence from rows (history of at most ``limit`` items, target)."""
    next_item: dict[tuple[str, ...], str] = {}
    for history, target, source, row in rows:
        known = next_item.setdefault(history, target)
        if known != target:
            raise ValidationError(
                source,
                row,
                "item_id",
                f"user {user}: the same history is followed by {known} and {target}; "
                "the rows do not form one sequence",
            )
    start = min(next_item, key=len)
    sequence = list(start)
    while next_item:
        window = tuple(sequence[-limit:]) if limit else ()
        if window not in next_item:
            break
        sequence.append(next_item.pop(window))
    if next_item:
        _, _, source, row = rows[0]
        raise ValidationError(
            source,
            row,
            "item_id_list",
            f"user {user}: {len(next_item)} of {len(rows)} rows do not continue the "
            "sequence the others form",
        )
    return sequence


def _columns(file: Path, header: list[str]) -> tuple[int, int, int]:
    """Positions of the user, history and target columns (``name:type`` headers)."""
    names = [h.split(":")[0].strip() for h in header]
    try:
        return names.index("user_id"), names.index("item_id_list"), names.index("item_id")
    except ValueError:
        raise ValidationError(
            file.name,
            0,
            "header",
            "expected the columns user_id:token, item_id_list:token_seq, item_id:token",
        ) from None
