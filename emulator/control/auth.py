"""Who may use the control API: anyone in sandbox mode; with --users, the same users and
passwords as the emulated API, over Basic."""

from __future__ import annotations

from fastapi import HTTPException, Request

from emulator.control.context import ControlContext
from emulator.transport.auth import REALM


def require_login(request: Request) -> None:
    context: ControlContext = request.app.state.control
    authenticator = context.authenticator
    if authenticator.users is None:
        return
    credentials = authenticator.credentials(request.headers.get("authorization"))
    if credentials is None or not authenticator.verify(*credentials):
        raise HTTPException(401, "authentication required (Basic, a user of --users)",
                            headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})
