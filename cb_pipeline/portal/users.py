"""Portal users: the users file (YAML), argon2id password hashes, and which HWBs each user may see.

Belongs here: reading and atomically writing the file named by CB_PORTAL_USERS (default
./data/portal_users.yaml, mode 0600), adding or replacing a user, and verifying a password in
constant work whether or not the user exists. Does not: sessions or web requests (app.py), the
command line (commands.py). Passwords are never stored, printed or taken from argv.

    users:
      alice:
        password_hash: $argon2id$v=19$m=65536,t=3,p=4$...
        hwbs: [E06000056]
"""

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import argon2
import yaml

from cb_pipeline.lib.settings import ConfigurationError

USERS_ENV = "CB_PORTAL_USERS"
DEFAULT_USERS_FILE = Path("data") / "portal_users.yaml"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
HWB = re.compile(r"^[A-Z][0-9]{8}$")
MIN_PASSWORD = 12

_hasher = argon2.PasswordHasher()  # argon2id with the library's current recommended parameters
_dummy_hash: list[str] = []  # made on first use: equalises the work for unknown user names


@dataclass(frozen=True)
class PortalUser:
    name: str
    password_hash: str
    hwbs: tuple[str, ...]


def users_file(env: dict | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(USERS_ENV) or DEFAULT_USERS_FILE)


def load_users(path: Path) -> dict[str, PortalUser]:
    """{name: user}; a missing file is no users. A malformed file is a ConfigurationError."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path} is not valid YAML: {exc}") from None
    users = data.get("users") if isinstance(data, dict) else None
    if users is None:
        return {}
    if not isinstance(users, dict):
        raise ConfigurationError(f"{path}: `users` must be a mapping of user name to settings")
    out = {}
    for name, entry in users.items():
        if not isinstance(name, str) or not NAME.match(name) or not isinstance(entry, dict):
            raise ConfigurationError(f"{path}: bad user entry {name!r}")
        hashed, hwbs = entry.get("password_hash"), entry.get("hwbs") or []
        if not isinstance(hashed, str) or not hashed.startswith("$argon2"):
            raise ConfigurationError(f"{path}: user {name} has no argon2 password_hash")
        if not isinstance(hwbs, list) or not all(isinstance(h, str) and HWB.match(h) for h in hwbs):
            raise ConfigurationError(f"{path}: user {name} has bad hwbs (GSS codes such as E06000056)")
        out[name] = PortalUser(name, hashed, tuple(hwbs))
    return out


def _write(path: Path, users: dict[str, PortalUser]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"users": {u.name: {"password_hash": u.password_hash, "hwbs": list(u.hwbs)} for u in users.values()}}
    text = ("# cb-pipeline portal users: argon2id password hashes and the HWBs each user may see.\n"
            "# Add or change a user with `cb-pipeline portal-user add NAME --hwb CODE`.\n"
            + yaml.safe_dump(body, sort_keys=True))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_user(path: Path, name: str, password: str, hwbs: list[str]) -> PortalUser:
    """Add the user, or replace their password and HWBs; returns the stored user."""
    if not NAME.match(name or ""):
        raise ConfigurationError(f"user name {name!r}: letters, digits, '.', '_' or '-', at most 64")
    codes = [h.strip().upper() for h in hwbs]
    bad = [h for h in codes if not HWB.match(h)]
    if bad or not codes:
        raise ConfigurationError(f"--hwb must be HWB GSS codes such as E06000056 (got {', '.join(bad) or 'none'})")
    if len(password) < MIN_PASSWORD:
        raise ConfigurationError(f"the password must have at least {MIN_PASSWORD} characters")
    users = load_users(path)
    user = PortalUser(name, _hasher.hash(password), tuple(dict.fromkeys(codes)))
    users[name] = user
    _write(Path(path), users)
    return user


def verify(user: PortalUser | None, password: str) -> bool:
    """True only for the right password of an existing user; the same argon2 work either way."""
    if not _dummy_hash:
        _dummy_hash.append(_hasher.hash(os.urandom(16).hex()))
    try:
        return _hasher.verify(user.password_hash if user else _dummy_hash[0], password) and user is not None
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False
