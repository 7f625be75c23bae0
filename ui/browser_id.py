"""Which browser a session belongs to, so that a record-form draft opens only where it was typed.

A reload starts a new Streamlit session, so the session itself cannot be the owner.
The browser keeps Streamlit's XSRF cookie across reloads; its token (the cookie is
re-masked on every page load, the token inside stays) is a secret only this browser
holds. Without that cookie (an in-process AppTest, or XSRF protection switched off)
the owner is a random secret of this session: drafts then survive reruns, not reloads.
"""

from __future__ import annotations

import binascii
import hashlib
import secrets

import streamlit as st

XSRF_COOKIE = "_streamlit_xsrf"
_SESSION_KEY = "_kb_browser_secret"


def xsrf_token(cookie: str | None) -> bytes | None:
    """The raw token inside Streamlit's XSRF cookie ("2|mask|masked token|time"), or None."""
    value = (cookie or "").strip("\"'")
    parts = value.split("|")
    if len(parts) != 4 or parts[0] != "2":
        return None
    try:
        mask, masked = binascii.a2b_hex(parts[1]), binascii.a2b_hex(parts[2])
    except (binascii.Error, ValueError):
        return None
    if len(mask) != 4 or len(masked) < 16:
        return None
    return bytes(b ^ mask[i % 4] for i, b in enumerate(masked))


def owner_from_cookie(cookie: str | None) -> str | None:
    """The draft owner a browser with this XSRF cookie is (tests compute it the same way)."""
    token = xsrf_token(cookie)
    return "browser:" + hashlib.sha256(token).hexdigest() if token else None


def browser_owner() -> str:
    """This browser's owner name for drafts (see the module docstring)."""
    try:
        cookie = st.context.cookies.get(XSRF_COOKIE)
    except Exception:  # no client context (bare script runs)
        cookie = None
    if owner := owner_from_cookie(cookie):
        return owner
    return st.session_state.setdefault(_SESSION_KEY, "session:" + secrets.token_hex(16))
