"""Who a storefront request acts for: signed cookies, CSRF tokens and a write rate limit.

A storefront shopper is two cookies signed with ``itsdangerous`` (``ss_uid``, a year;
``ss_sid``, until the browser closes). A cookie whose signature does not match is ignored
and the request gets a new anonymous shopper, so a client cannot act for a shopper it
made up. ``/?as=U0042`` (browse as a sample-shop shopper) works only when the server runs
with ``SHOPSENSE_DEMO_SHOPPERS=true`` (``shopsense demo`` does); otherwise it is refused.

Every storefront write (``/shop/events``, ``/cart/add``, ``/checkout``) carries a CSRF
token bound to the session (a hidden form field, or ``csrf`` in the page script's JSON
body); cookies are ``SameSite=Lax`` and ``HttpOnly``. Writes are rate limited per client
address (the ``limits`` library, a moving window; ``SHOPSENSE_SHOP_WRITE_LIMIT``), 429 with
``Retry-After`` above it.

Example::

    >>> shoppers = Shoppers(b"secret", demo=False, write_limit="5/second")
    >>> value = shoppers.sign_user("S-1")
    >>> shoppers.read_user(value), shoppers.read_user("S-1.forged")
    ('S-1', None)
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

UID, SID = "ss_uid", "ss_sid"
#: The operator's cookie after ``/dashboard/login`` (the dashboard and ``/admin/stats``).
ADMIN = "ss_admin"
#: How long an operator stays logged in.
ADMIN_MAX_AGE_S = 12 * 3600
#: Shopper ids ``?as=`` may choose (cookie- and URL-safe).
_AS_VALUE = re.compile(r"[A-Za-z0-9_.:@-]{1,64}")


@dataclass(frozen=True)
class Shopper:
    """The shopper and browser session a request acts for; ``fresh``: new cookies needed."""

    user_id: str
    session_id: str
    fresh: bool = False


class Shoppers:
    """Signs and reads the storefront's cookies, makes and checks CSRF tokens, limits writes."""

    def __init__(self, secret: bytes, demo: bool, write_limit: str) -> None:
        self.demo = demo
        self._secret = secret
        self._users = URLSafeSerializer(secret, salt="shopsense.shopper")
        self._sessions = URLSafeSerializer(secret, salt="shopsense.session")
        self._admin = URLSafeTimedSerializer(secret, salt="shopsense.admin")
        self._limit = parse(write_limit) if write_limit else None
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    @classmethod
    def for_key(cls, api_key: str, demo: bool, write_limit: str) -> Shoppers:
        """Cookies signed with a secret derived from the API key (a configured key keeps
        shoppers across restarts; a random one starts everybody afresh)."""
        secret = hmac.new(api_key.encode(), b"shopsense storefront cookies", hashlib.sha256)
        return cls(secret.digest(), demo, write_limit)

    def sign_user(self, user_id: str) -> str:
        return str(self._users.dumps(user_id))

    def sign_session(self, session_id: str) -> str:
        return str(self._sessions.dumps(session_id))

    def read_user(self, value: str | None) -> str | None:
        return _loads(self._users, value)

    def read_session(self, value: str | None) -> str | None:
        return _loads(self._sessions, value)

    def identify(self, cookies: dict[str, str], chosen: str | None = None) -> Shopper:
        """The signed cookies' shopper; new ids when absent or forged. ``chosen`` (``?as=``)
        switches shopper, in demo mode only (``PermissionError`` otherwise)."""
        user = self.read_user(cookies.get(UID))
        session = self.read_session(cookies.get(SID))
        fresh = user is None or session is None
        if chosen is not None:
            if not self.demo:
                raise PermissionError(
                    "?as= (browse as another shopper) works only on a demo server: "
                    "SHOPSENSE_DEMO_SHOPPERS=true"
                )
            if not _AS_VALUE.fullmatch(chosen):
                raise ValueError("?as= takes letters, digits and _.:@- (at most 64)")
            fresh = fresh or chosen != user
            user = chosen
        return Shopper(
            user or "S-" + secrets.token_hex(8), session or "W-" + secrets.token_hex(8), fresh
        )

    def sign_admin(self) -> str:
        """The operator's cookie value (valid for :data:`ADMIN_MAX_AGE_S`)."""
        return str(self._admin.dumps("operator"))

    def admin_ok(self, value: str | None) -> bool:
        if not value:
            return False
        try:
            return bool(self._admin.loads(value, max_age=ADMIN_MAX_AGE_S) == "operator")
        except BadSignature:  # also SignatureExpired
            return False

    def operator_token(self, cookie: str) -> str:
        """The dashboard forms' CSRF token, bound to the operator's cookie value (each login
        makes a new one)."""
        message = b"operator\n" + cookie.encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def operator_token_ok(self, cookie: str | None, token: str | None) -> bool:
        """Whether ``cookie`` is a live operator cookie and ``token`` the forms' token."""
        return (
            self.admin_ok(cookie)
            and cookie is not None
            and token is not None
            and hmac.compare_digest(token.encode(), self.operator_token(cookie).encode())
        )

    def csrf_token(self, shopper: Shopper) -> str:
        """A token bound to the shopper and session (forms and the page script send it)."""
        message = f"{shopper.user_id}\n{shopper.session_id}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def csrf_ok(self, shopper: Shopper, token: str | None) -> bool:
        return (
            not shopper.fresh
            and token is not None
            and hmac.compare_digest(token.encode(), self.csrf_token(shopper).encode())
        )

    def retry_after(self, client: str) -> int | None:
        """``None`` when ``client`` may write now (the write is counted), else the seconds
        until it may."""
        if self._limit is None or self._limiter.hit(self._limit, "shop-write", client):
            return None
        reset, _ = self._limiter.get_window_stats(self._limit, "shop-write", client)
        return max(1, math.ceil(reset - time.time()))


def _loads(serializer: URLSafeSerializer, value: str | None) -> str | None:
    if not value:
        return None
    try:
        loaded = serializer.loads(value)
    except BadSignature:
        return None
    return loaded if isinstance(loaded, str) else None
