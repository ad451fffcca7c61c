"""Typed settings, read once from ``PEERLOG_*`` environment variables.

Each field has a type, a default and a one-line doc; ``Settings.from_env`` is the only place that
reads the environment. Tests build ``Settings(...)`` directly.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sync.models import Role


class SettingsError(ValueError):
    """A setting has a value Peerlog cannot use; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(
        default=Path("./data"),
        metadata={"doc": "Folder for the SQLite database and other local files."},
    )
    database_url: str = field(
        default="",
        metadata={
            "doc": "sqlite://PATH or postgres://USER@HOST/DB; default SQLite in the data folder."
        },
    )
    origin: str = field(
        default="http://localhost:8000",
        metadata={"doc": "Public origin of the app; the WebAuthn RP ID is its host."},
    )
    rp_name: str = field(
        default="Peerlog", metadata={"doc": "Name shown by the phone when it creates a passkey."}
    )
    host: str = field(default="127.0.0.1", metadata={"doc": "Address `peerlog serve` listens on."})
    port: int = field(default=8000, metadata={"doc": "Port `peerlog serve` listens on."})
    workers: int = field(
        default=1,
        metadata={"doc": "Server processes for `peerlog serve` (PostgreSQL for more than one)."},
    )
    session_idle_minutes: int = field(
        default=60 * 24 * 14,
        metadata={"doc": "A session unused this long ends (phones sync rarely when offline)."},
    )
    session_absolute_minutes: int = field(
        default=60 * 24 * 90,
        metadata={"doc": "A session ends this long after sign-in, used or not."},
    )
    staff_session_idle_minutes: int = field(
        default=60 * 12,
        metadata={
            "doc": "A coordinator's or administrator's session unused this long ends (they see every record of a community or more)."
        },
    )
    staff_session_absolute_minutes: int = field(
        default=60 * 24 * 7,
        metadata={
            "doc": "A coordinator's or administrator's session ends this long after sign-in, used or not."
        },
    )
    overdue_days: int = field(
        default=30, metadata={"doc": "A participant not contacted for this many days is overdue."}
    )
    at_risk_days: int = field(
        default=3,
        metadata={
            "doc": "Staff pages list a phone as at risk when it has not synced for this many days."
        },
    )
    timezone: str = field(
        default="Asia/Shanghai",
        metadata={
            "doc": "IANA time zone the program's days are counted in (dashboard, roster, overdue, exports, the day of a reading reported on a contact)."
        },
    )
    invite_days: int = field(default=7, metadata={"doc": "Days an invite link stays valid."})
    max_push_mutations: int = field(
        default=500, metadata={"doc": "Most mutations accepted in one push."}
    )
    max_push_bytes: int = field(
        default=1024 * 1024, metadata={"doc": "Largest push body accepted, in bytes."}
    )
    rate_limit_per_minute: int = field(
        default=30,
        metadata={"doc": "Sign-in and invite attempts allowed per client address per minute."},
    )
    device_key_roles: str = field(
        default="peer_leader,volunteer",
        metadata={
            "doc": "Roles that may sign in with a device key (phones that cannot make a passkey), comma-separated, or `none`. Staff roles should keep passkeys."
        },
    )
    trusted_proxies: str = field(
        default="",
        metadata={
            "doc": "Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For gives the client's address (rate limits count by it); empty: believed from nobody."
        },
    )
    log_level: str = field(
        default="INFO",
        metadata={"doc": "Python logging level; DEBUG adds each SQL statement, never its values."},
    )
    secret_key: str = field(
        default="",
        metadata={
            "doc": "Signs CSRF tokens; set the same value on every server process. Default: made once and kept in the data folder."
        },
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if not self.database_url:
            object.__setattr__(
                self, "database_url", f"sqlite://{self.data_dir / 'peerlog.sqlite3'}"
            )
        _check_database_url(self.database_url)
        parts = urlsplit(self.origin)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
        ):
            raise SettingsError(
                f"PEERLOG_ORIGIN must be a scheme and host like https://peerlog.example.org, got {self.origin!r}"
            )
        object.__setattr__(self, "origin", self.origin.rstrip("/"))
        for name in (
            "port",
            "workers",
            "session_idle_minutes",
            "session_absolute_minutes",
            "staff_session_idle_minutes",
            "staff_session_absolute_minutes",
            "overdue_days",
            "at_risk_days",
            "invite_days",
            "max_push_mutations",
            "max_push_bytes",
            "rate_limit_per_minute",
        ):
            if getattr(self, name) < 1:
                raise SettingsError(
                    f"PEERLOG_{name.upper()} must be at least 1, got {getattr(self, name)}"
                )
        if self.port > 65535:
            raise SettingsError(f"PEERLOG_PORT must be at most 65535, got {self.port}")
        _check_timezone(self.timezone)
        roles = [r.strip() for r in self.device_key_roles.split(",") if r.strip()]
        roles = [] if roles == ["none"] else roles
        known = tuple(role.value for role in Role)
        unknown = [r for r in roles if r not in known]
        if unknown:
            raise SettingsError(
                f"PEERLOG_DEVICE_KEY_ROLES lists roles that do not exist: {', '.join(unknown)} (choose from {', '.join(known)})"
            )
        object.__setattr__(self, "device_key_roles", ",".join(roles))
        _check_proxies(self.trusted_proxies)
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(
                f"PEERLOG_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {self.log_level!r}"
            )

    @property
    def rp_id(self) -> str:
        """WebAuthn relying-party id: the origin's host name."""
        return urlsplit(self.origin).hostname or "localhost"

    @property
    def device_key_role_names(self) -> frozenset[str]:
        """The roles allowed to sign in with a device key."""
        return frozenset(r for r in self.device_key_roles.split(",") if r)

    @property
    def zone(self) -> ZoneInfo:
        """The program's time zone: where a day starts and ends for every figure and filter."""
        return ZoneInfo(self.timezone)  # zoneinfo caches each zone: no file read after the first

    @property
    def secure_cookies(self) -> bool:
        """Cookies are ``Secure`` everywhere except plain-HTTP localhost development."""
        return not (self.origin.startswith("http://") and self.rp_id in ("localhost", "127.0.0.1"))

    def secret(self) -> str:
        """The CSRF signing secret: the setting, or one made once and kept in the data folder."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if not path.exists():
            import secrets

            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def uvicorn_proxy_options(self) -> dict[str, Any]:
        """What uvicorn is told about proxies. uvicorn's own default believes X-Forwarded-For
        from 127.0.0.1, so anyone on the host, or behind a pass-through proxy there, could give
        each request a new address and never meet a rate limit."""
        proxies = ",".join(e.strip() for e in self.trusted_proxies.split(",") if e.strip())
        if not proxies:
            return {"proxy_headers": False}
        return {"proxy_headers": True, "forwarded_allow_ips": proxies}

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite://")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``PEERLOG_<FIELD>`` for every field; raise ``SettingsError`` on a bad value."""
        env = os.environ if environ is None else environ
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(f"PEERLOG_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            kind = hints[f.name]
            try:
                values[f.name] = Path(raw) if kind is Path else kind(raw)
            except ValueError:
                raise SettingsError(
                    f"PEERLOG_{f.name.upper()} must be a whole number, got {raw!r}"
                ) from None
        return cls(**values)

    @classmethod
    def documentation(cls) -> list[tuple[str, str, str]]:
        """(variable, default, doc) for every setting: the README's table comes from this."""
        return [
            (f"PEERLOG_{f.name.upper()}", str(f.default), f.metadata.get("doc", ""))
            for f in dataclasses.fields(cls)
        ]


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # A slim container or Windows may have no time zone database at all: then no name
        # would do, and the fix is to install one, not to pick another name.
        if not available_timezones():
            raise SettingsError(
                f"PEERLOG_TIMEZONE {name!r} cannot be looked up: this system has no time zone database (install the tzdata package)"
            ) from None
        raise SettingsError(
            f"PEERLOG_TIMEZONE must be an IANA time zone name such as Asia/Shanghai or UTC, got {name!r}"
        ) from None


def _check_proxies(value: str) -> None:
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        try:
            # Strict, as uvicorn parses them: it would take 10.0.0.1/8 for a host name and
            # trust nobody, silently.
            ipaddress.ip_network(entry) if "/" in entry else ipaddress.ip_address(entry)
        except ValueError:
            raise SettingsError(
                f"PEERLOG_TRUSTED_PROXIES must list IP addresses or networks such as 10.0.0.5, 10.1.0.0/16, got {entry!r}"
            ) from None


def _check_database_url(url: str) -> None:
    if url.startswith("sqlite://"):
        if not url[len("sqlite://") :]:
            raise SettingsError(
                "PEERLOG_DATABASE_URL sqlite:// needs a file path, e.g. sqlite://./data/peerlog.sqlite3"
            )
        return
    parts = urlsplit(url)
    if (
        parts.scheme not in ("postgres", "postgresql")
        or not parts.hostname
        or not parts.path.strip("/")
    ):
        raise SettingsError(
            "PEERLOG_DATABASE_URL must be sqlite://PATH or postgres://USER@HOST:PORT/DATABASE"
        )


def settings_of(app_state: Any) -> Settings:
    """The settings the app was made with (``create_app`` keeps them in its state): for the
    handlers, which take ``request.app.state``."""
    settings = app_state.settings
    assert isinstance(settings, Settings)
    return settings
