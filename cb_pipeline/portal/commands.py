"""The portal's commands: `cb-pipeline serve` and `cb-pipeline portal-user add` (wired in cli.py).

Belongs here: reading the password from a prompt (twice) or from standard input, never argv;
starting uvicorn on the given address. Does not: the application (app.py) or the users file (users.py).
"""

import getpass
import sys

from cb_pipeline.lib.settings import ConfigurationError
from cb_pipeline.portal import users as users_module


def read_password() -> str:
    if sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != first:
            raise ConfigurationError("the passwords do not match")
        return first
    line = sys.stdin.readline() if sys.stdin is not None else ""
    if not line:
        raise ConfigurationError("no password on standard input")
    return line.rstrip("\r\n")


def cmd_portal_user(args) -> int:
    path = users_module.users_file()
    user = users_module.add_user(path, args.name, read_password(), args.hwb)
    print(f"portal user {user.name} may see {', '.join(user.hwbs)} (saved in {path})")
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from cb_pipeline.portal.app import PortalSettings, create_app

    settings = PortalSettings.from_env()
    if not settings.users_file.exists():
        print(f"warning: {settings.users_file} does not exist: add a user with `cb-pipeline portal-user add`",
              file=sys.stderr)
    if not settings.secure_cookies:
        print("warning: session cookies without the Secure flag (CB_PORTAL_INSECURE_COOKIES): plain HTTP on "
              "this machine only", file=sys.stderr)
    app = create_app(settings)
    uvicorn.run(app, host=args.host, port=args.port, proxy_headers=False, server_header=False,
                log_level="info", ssl_certfile=args.certfile, ssl_keyfile=args.keyfile)
    return 0
