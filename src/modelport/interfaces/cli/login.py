"""``modelport login`` / ``logout``: every command on this machine uses a team server.

The key is checked against the server before it is saved, so a mistyped key
is one error line now rather than on every later command.
"""

from __future__ import annotations

from typing import Annotated

import typer

from modelport.errors import ModelportError
from modelport.interfaces.cli.render import console


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("logout")(logout)


def login(
    url: Annotated[str, typer.Argument(help="The server, e.g. https://modelport.example.com")],
    token: Annotated[str | None, typer.Option(
        "--token", help="An API key of the server [default: asked for, not echoed]")] = None,
) -> None:
    """Use the modelport server at URL for every command (MODELPORT_URL/TOKEN still win)."""
    from modelport.core.store.rest import RestStore
    from modelport.login import Login, save_login, server_url

    url = server_url(url)
    secret = (token or typer.prompt("API key", hide_input=True)).strip()
    store = RestStore(url, secret)
    try:
        store.registry.list_models()
    except ModelportError as exc:
        if exc.status != 403:  # 403: a valid key that may not read models (e.g. predict only)
            raise
    finally:
        store.close()
    path = save_login(Login(url, secret))
    console.print(f"logged in to {url} — modelport commands on this machine now use it "
                  f"(key saved in {path}, readable by you only; undo with: modelport logout)",
                  markup=False, soft_wrap=True)


def logout() -> None:
    """Forget the saved server and key: commands use the local workspace again."""
    from modelport.login import forget_login, login_path

    if forget_login():
        console.print(f"logged out (removed {login_path()})", markup=False, soft_wrap=True)
    else:
        console.print("not logged in", markup=False)
