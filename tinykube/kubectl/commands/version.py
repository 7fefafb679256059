"""``kubectl version``: this client's version (the kubectl release it matches) and the server's."""

from __future__ import annotations

from typing import Any

from tinykube.kubectl.errors import CommandError
from tinykube.kubectl.flags import Flag

FLAGS = [Flag("client", kind="bool", default=False), Flag("output", "o")]

# tkctl reports the kubectl release whose behaviour it follows.
CLIENT = {
    "major": "1",
    "minor": "37",
    "gitVersion": "v1.37.1",
    "gitCommit": "tinykube",
    "gitTreeState": "clean",
    "buildDate": "2026-09-23T17:10:04Z",
    "goVersion": "python",
    "compiler": "cpython",
    "platform": "linux/amd64",
}
KUSTOMIZE = "v5.8.1"


def _skew_warning(server: dict[str, Any]) -> str:
    try:
        minor = int(str(server.get("minor", "")).rstrip("+"))
    except ValueError:
        return ""
    if abs(int(CLIENT["minor"]) - minor) > 1:
        return (
            f"WARNING: version difference between client (1.{CLIENT['minor']}) and server "
            f"(1.{minor}) exceeds the supported minor version skew of +/-1\n"
        )
    return ""


async def run(f: Any, o: Any) -> int:
    if o.output not in (None, "", "json", "yaml"):
        raise CommandError("--output must be 'yaml' or 'json'")
    server = None if o.client else await f.client.call("GET", "/version")
    if o.output:
        from tinykube.kubectl.printers import to_yaml

        doc: dict[str, Any] = {"clientVersion": CLIENT, "kustomizeVersion": KUSTOMIZE}
        if server is not None:
            doc["serverVersion"] = server
        if o.output == "json":
            import json

            f.out.write(json.dumps(doc, indent=2) + "\n")
        else:
            f.out.write(to_yaml(doc))
        return 0
    f.out.write(f"Client Version: {CLIENT['gitVersion']}\nKustomize Version: {KUSTOMIZE}\n")
    if server is not None:
        f.out.write(f"Server Version: {server.get('gitVersion', '')}\n")
        warning = _skew_warning(server)
        if warning:
            f.out.flush()
            f.err.write(warning.replace("WARNING", "Warning", 1))
    return 0
