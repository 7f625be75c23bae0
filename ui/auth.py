"""Who may change the knowledge base in the app: staff search, managers upload and delete.

A manager signs in with the manager password (stored only as a hash: env
KB_MANAGER_PASSWORD_HASH or secrets `manager_password_hash`; a plain
KB_MANAGER_PASSWORD is hashed at start), or through Streamlit's OIDC login when
secrets hold an [auth] section. With neither configured, manager actions are open
only to a browser on this computer (one laptop), under a visible warning.

Pages call `require_manager(key)`: it returns the manager's name, or draws the
sign-in form and returns None. Writes then run inside `acting_as(name)` so the
audit log records who made them.
"""

from __future__ import annotations

import functools
import ipaddress
import math

import streamlit as st

from kb import (
    PasswordFormatError,
    Settings,
    SignInThrottle,
    acting_as,
    check_format,
    default_actor,
    hash_password,
    verify_password,
)
from ui.i18n import tr
from ui.state import knowledge_base

__all__ = ["acting_as", "current_manager", "require_manager", "sign_out_button"]

TEXT: dict[str, tuple[str, str]] = {
    "heading": ("管理者サインイン", "Manager sign-in"),
    "why": ("アップロード・差し替え・削除・再インデックスは管理者のみ行えます。",
            "Uploading, replacing, deleting and re-indexing are for knowledge managers."),
    "name": ("お名前（監査ログに記録されます）", "Your name (recorded in the audit log)"),
    "password": ("管理者パスワード", "Manager password"),
    "sign_in": ("サインイン", "Sign in"),
    "sign_in_oidc": ("組織のアカウントでサインイン", "Sign in with your organisation account"),
    "wrong": ("パスワードが違います。", "Wrong password."),
    "locked": ("サインインの失敗が続いたため、{seconds} 秒後まで受け付けません。",
               "Too many failed sign-ins: try again in {seconds} s."),
    "need_name": ("お名前を入力してください。", "Enter your name."),
    "not_manager": ("{user} さんは管理者として登録されていません。",
                    "{user} is not registered as a manager."),
    "signed_in": ("管理者：{name}", "Manager: {name}"),
    "sign_out": ("サインアウト", "Sign out"),
    "open_warning": ("⚠️ 管理者パスワードが設定されていません（manager password not set）。"
                     "このPCからのアクセスに限り管理操作を許可しています。共有する前に "
                     "`kb hash-password` で作ったハッシュを KB_MANAGER_PASSWORD_HASH に設定してください。",
                     "⚠️ Manager password not set. Manager actions are open to this computer only. "
                     "Before sharing the app, set KB_MANAGER_PASSWORD_HASH to a hash made with "
                     "`kb hash-password`."),
    "closed": ("管理者パスワードが設定されていないため、他のPCからは管理操作ができません。"
               "管理者に KB_MANAGER_PASSWORD_HASH の設定を依頼してください。",
               "No manager password is set, so manager actions are closed to other computers. "
               "Ask the administrator to set KB_MANAGER_PASSWORD_HASH."),
}
_SESSION_KEY = "_kb_manager"


def _secret(key: str) -> object | None:
    """A value from st.secrets, None when there is no secrets file or no such key."""
    try:
        return st.secrets.get(key)
    except Exception:  # StreamlitSecretNotFoundError, or a malformed secrets file
        return None


@functools.lru_cache(maxsize=4)
def _hash_of_plain(password: str) -> str:
    """KB_MANAGER_PASSWORD is hashed once per process and then only the hash is compared."""
    return hash_password(password)


def password_hash() -> str | None:
    """The configured manager password hash, if any (env first, then secrets)."""
    settings = Settings.from_env()
    if value := settings.manager_password_hash:
        return value
    if value := _secret("manager_password_hash"):
        return str(value).strip()
    if plain := settings.manager_password:
        return _hash_of_plain(plain)
    return None


def oidc_configured() -> bool:
    return bool(_secret("auth"))


def is_loopback(ip: object) -> bool:
    """Whether a client address is this computer: None (Streamlit's answer for 127.0.0.1 and
    ::1), a loopback address, IPv4-mapped ones included ('::ffff:127.0.0.1', which Streamlit
    passes through), or no address at all (an in-process AppTest)."""
    if not isinstance(ip, str):
        return True
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def _is_local() -> bool:
    try:
        return is_loopback(st.context.ip_address)
    except Exception:
        return False


def _oidc_logged_in() -> bool:
    """st.user.is_logged_in, read so that a missing key (no identity cookie yet) means no."""
    try:
        return bool(st.user.get("is_logged_in", False))
    except Exception:
        return False


def _oidc_manager() -> str | None:
    """The OIDC-signed-in user, if allowed: any user, or those in secrets `manager_emails`."""
    user = st.user
    if not _oidc_logged_in():
        return None
    email = str(user.get("email") or "")
    allowed = _secret("manager_emails")
    if allowed and email.lower() not in {str(e).lower() for e in allowed}:  # type: ignore[union-attr]
        return None
    return str(user.get("name") or email or "manager")


def open_mode() -> bool:
    """No password and no OIDC configured: the single-laptop default."""
    return password_hash() is None and not oidc_configured()


def current_manager() -> str | None:
    """The signed-in manager's name, or None; draws nothing."""
    if name := st.session_state.get(_SESSION_KEY):
        return str(name)
    if oidc_configured() and (name := _oidc_manager()):
        return name
    if open_mode() and _is_local():
        return f"{default_actor()} (local)"
    return None


def require_manager(key: str = "auth") -> str | None:
    """The manager's name; otherwise draw the sign-in form (once per page, keyed) and return None."""
    if name := current_manager():
        if open_mode():
            st.warning(tr(TEXT, "open_warning"))
        return name
    if open_mode():
        st.error(tr(TEXT, "closed"))
        return None
    with st.container(border=True):
        st.markdown(f"**{tr(TEXT, 'heading')}**")
        st.caption(tr(TEXT, "why"))
        if oidc_configured():
            if _oidc_logged_in():
                st.error(tr(TEXT, "not_manager", user=st.user.get("email") or st.user.get("name")))
            elif st.button(tr(TEXT, "sign_in_oidc"), key=f"{key}_oidc"):
                provider = _secret("manager_oidc_provider")
                st.login(str(provider)) if provider else st.login()
        if (stored := password_hash()) is not None:
            try:
                check_format(stored)
            except PasswordFormatError as exc:
                st.error(str(exc))
                return None
            _password_form(key)
    return None


@functools.cache
def _throttle() -> SignInThrottle:
    """One per app process: failed sign-ins of every session count (kb/passwords.py)."""
    return SignInThrottle()


def _client() -> str:
    """Who is signing in, as the lockout counts them: the connection's address (Streamlit
    reports None for this computer; no address at all in an in-process AppTest)."""
    try:
        ip = st.context.ip_address
    except Exception:
        ip = None
    return ip if isinstance(ip, str) and ip else "127.0.0.1"


def _password_form(key: str) -> None:
    with st.form(f"{key}_form", clear_on_submit=True):
        name = st.text_input(tr(TEXT, "name"), key=f"{key}_name")
        password = st.text_input(tr(TEXT, "password"), type="password", key=f"{key}_password")
        submitted = st.form_submit_button(tr(TEXT, "sign_in"))
    if not submitted:
        return
    stored, client = password_hash(), _client()
    if (wait := _throttle().wait_left(client)) > 0:  # checked before any password is hashed
        st.error(tr(TEXT, "locked", seconds=math.ceil(wait)))
    elif not name.strip():
        st.error(tr(TEXT, "need_name"))
    elif stored and verify_password(password, stored):
        _throttle().succeeded(client)
        st.session_state[_SESSION_KEY] = name.strip()
        st.rerun()
    else:
        _throttle().failed(client)
        knowledge_base().audit_failed_sign_in(client, name.strip())
        st.error(tr(TEXT, "wrong"))


def sign_out_button(key: str = "auth") -> None:
    """In the sidebar: who is signed in, and a sign-out button (password or OIDC)."""
    name = current_manager()
    if not name or open_mode():
        return
    st.sidebar.caption(tr(TEXT, "signed_in", name=name))
    if st.sidebar.button(tr(TEXT, "sign_out"), key=f"{key}_sign_out"):
        if st.session_state.pop(_SESSION_KEY, None) is None and oidc_configured():
            st.logout()
        st.rerun()
