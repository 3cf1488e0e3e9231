"""HTTP Basic authentication: a sandbox that accepts anyone, or a strict users file."""

from __future__ import annotations

import base64
import binascii
import hmac
from pathlib import Path

from fastapi import Response

REALM = "hvsim"


class UsersFileError(ValueError):
    """The users file cannot be read or has a malformed line."""


def load_users(path: Path) -> dict[str, str]:
    """Read `user:password` lines; blank lines and lines starting with # are ignored."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise UsersFileError(f"{path}: {error.strerror}") from None
    users: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user.strip():
            raise UsersFileError(f"{path}:{number}: expected user:password")
        users[user.strip().lower()] = password
    if not users:
        raise UsersFileError(f"{path}: no users defined")
    return users


class Authenticator:
    """users=None is sandbox mode: any user name and password are accepted."""

    def __init__(self, users: dict[str, str] | None = None) -> None:
        self.users = users

    def credentials(self, header: str | None) -> tuple[str, str] | None:
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        return (user, password) if sep else None

    def verify(self, user: str, password: str) -> bool:
        if self.users is None:
            return True
        expected = self.expected_password(user)
        return expected is not None and hmac.compare_digest(expected.encode(), password.encode())

    def expected_password(self, user: str) -> str | None:
        """The password the users file gives `user` (None: unknown, or sandbox mode).

        Schemes that prove a password without sending it (NTLM) need it to verify the proof.
        """
        if self.users is None:
            return None
        # Windows account names are case-insensitive; the user part may carry a domain.
        name = user.split("\\")[-1].split("@")[0].lower()
        return self.users.get(name)

    def check(self, header: str | None) -> Response | None:
        """None when the request may proceed, else the 401 to send."""
        credentials = self.credentials(header)
        if credentials is not None and self.verify(*credentials):
            return None
        return Response(status_code=401, content="authentication required\n",
                        media_type="text/plain; charset=utf-8",
                        headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})
