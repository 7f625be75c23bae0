"""Manager passwords: stored only as salted hashes, compared in constant time.

Formats accepted by `verify_password`:
  scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>      (what `kb hash-password` writes)
  pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>
  sha256:<hex>                                   (unsalted; accepted, not recommended)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable

from kb.errors import KBError

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class PasswordFormatError(KBError, ValueError):
    """The configured hash is in no format we know; the message shows the accepted ones."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A salted scrypt hash of `password`, safe to put in an environment variable or secrets."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${_b64(salt)}${_b64(digest)}"


def check_format(stored: str) -> None:
    """Raise PasswordFormatError unless `stored` is a hash `verify_password` can use."""
    try:
        _digest_for("", stored)
    except (ValueError, TypeError) as exc:
        raise PasswordFormatError(
            f"the manager password hash is not in a known format ({exc}); make one with "
            "`kb hash-password` (scrypt$...), or use pbkdf2_sha256$... or sha256:<hex>") from None


def _digest_for(password: str, stored: str) -> tuple[bytes, bytes]:
    """(digest of `password` under `stored`'s scheme and salt, the stored digest)."""
    stored = stored.strip()
    secret = password.encode("utf-8")
    if stored.startswith("sha256:"):
        expected = bytes.fromhex(stored[len("sha256:"):])
        if len(expected) != 32:
            raise ValueError("sha256 needs 64 hex digits")
        return hashlib.sha256(secret).digest(), expected
    parts = stored.split("$")
    if parts[0] == "scrypt" and len(parts) == 6:
        n, r, p = (int(x) for x in parts[1:4])
        salt, expected = base64.b64decode(parts[4]), base64.b64decode(parts[5])
        return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, dklen=len(expected),
                              maxmem=256 * 1024 * 1024), expected
    if parts[0] == "pbkdf2_sha256" and len(parts) == 4:
        salt, expected = base64.b64decode(parts[2]), base64.b64decode(parts[3])
        return hashlib.pbkdf2_hmac("sha256", secret, salt, int(parts[1]), len(expected)), expected
    raise ValueError("expected scrypt$..., pbkdf2_sha256$... or sha256:<hex>")


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches the stored hash (False for a malformed hash)."""
    try:
        digest, expected = _digest_for(password, stored)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


class SignInThrottle:
    """Failed manager sign-ins, per client and in all: after a few misses a client waits,
    twice as long after each further miss (capped), and a flood from many clients stops
    every client for a while. One per app process (ui/auth.py); pure, so tests drive it.
    """

    def __init__(self, free_tries: int = 5, first_wait: float = 30.0, max_wait: float = 900.0,
                 global_limit: int = 50, window: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free_tries, self.first_wait, self.max_wait = free_tries, first_wait, max_wait
        self.global_limit, self.window, self.clock = global_limit, window, clock
        self._misses: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait_left(self, client: str) -> float:
        """Seconds before `client` may try again (0: now)."""
        with self._lock:
            now = self.clock()
            self._forget(now)
            recent = [t for times in self._misses.values() for t in times]
            if len(recent) >= self.global_limit:
                return max(0.0, min(recent) + self.window - now)
            misses = self._misses.get(client, [])
            if len(misses) < self.free_tries:
                return 0.0
            wait = min(self.first_wait * 2 ** (len(misses) - self.free_tries), self.max_wait)
            return max(0.0, misses[-1] + wait - now)

    def failed(self, client: str) -> None:
        with self._lock:
            self._misses.setdefault(client, []).append(self.clock())

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._misses.pop(client, None)

    def _forget(self, now: float) -> None:
        for client in list(self._misses):
            self._misses[client] = [t for t in self._misses[client] if now - t < self.window]
            if not self._misses[client]:
                del self._misses[client]
