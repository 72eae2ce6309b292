"""``shopsense recommend`` and ``shopsense delete-user``: one shopper at a time.

    shopsense recommend U0042 -n 5             # the list, each item with its reason
    shopsense recommend U0042 --json           # the keys of GET /recommendations/U0042
    shopsense delete-user U0042                # the shopper and all their events go

``recommend`` answers as the server's ``for_you`` does, from the stored history; a shopper
without history (or unknown) gets trending products, and the output says so.
"""

from __future__ import annotations

import argparse
import json
import sys

from shopsense.commands import AddCommand, examples
from shopsense.config import Settings
from shopsense.errors import NotFoundError


def register(add: AddCommand) -> None:
    """Add ``recommend`` and ``delete-user``."""
    p = add(
        "recommend",
        cmd_recommend,
        "recommend products for a shopper (as the server does)",
        examples(
            "shopsense recommend U0042",
            "shopsense recommend U0042 -n 5 --objective click",
            "shopsense recommend U0042 --json",
        ),
    )
    p.add_argument("user", help="the shopper's id (as in your events)")
    p.add_argument("-n", type=int, default=10, help="how many products")
    p.add_argument(
        "--objective",
        choices=["click", "conversion", "revenue"],
        help="what the ranker orders for (default: the bundle's, conversion)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the list as JSON, with the keys of GET /recommendations/USER",
    )

    p = add(
        "delete-user",
        cmd_delete_user,
        "remove a shopper and all of their events",
        examples("shopsense delete-user U0042"),
    )
    p.add_argument("user", help="the shopper's id")


def cmd_recommend(args: argparse.Namespace, settings: Settings) -> int:
    from shopsense.demo import recommendations_for

    found = recommendations_for(settings, args.user, args.n, args.objective)
    body = found.body
    if args.json:
        sys.stdout.write(json.dumps(body) + "\n")
        return 0
    if found.fallback and found.history == 0:
        head = f"unknown shopper {args.user!r} (no stored events): trending products instead"
    elif found.fallback:
        head = f"no history of {args.user!r} that the models know: trending products instead"
    else:
        head = f"for {args.user!r}, strategy {body['strategy']}"
    lines = [f"{head} (bundle {body['bundle']}):"]
    for rank, item in enumerate(body["items"], start=1):
        lines.append(f"{rank:3d}. {item['item_id']:<10} {item['score']:8.4f}  {item['title']}")
        lines.append(f"     {item['explanation']}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def cmd_delete_user(args: argparse.Namespace, settings: Settings) -> int:
    from shopsense.store import open_store

    store = open_store(settings)
    try:
        if not store.events.user_history(args.user, 1):
            raise NotFoundError(
                f"no shopper {args.user!r} in {settings.data_dir} (no stored events); nothing "
                "was deleted (check the id, or the shopper was deleted already)"
            )
        removed = store.events.delete_user(args.user)
    finally:
        store.close()
    sys.stdout.write(f"removed shopper {args.user!r} and {removed} events\n")
    return 0
