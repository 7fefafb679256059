"""``kubectl create <generator>``: objects built locally from flags, as kubectl builds them.

Each generator returns the object kubectl would send, field for field (the
exam's way to write YAML is ``--dry-run=client -o yaml``), including the
empty ``status: {}`` and ``resources: {}`` that come from Go's zero values.
The namespace is written into the object only when ``-n`` was given, as
kubectl's ``EnforceNamespace`` does. Then ``create.create_object`` sends it.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from tinykube.api.errors import APIError
from tinykube.kubectl.errors import CommandError
from tinykube.kubectl.flags import Flag

Obj = dict[str, Any]

GENERATOR_FLAGS = [
    Flag("image", kind="list"),
    Flag("replicas", "r", kind="int", default=1),
    Flag("port", default="-1"),
    Flag("tcp", kind="list"),
    Flag("node-port", kind="int", default=0),
    Flag("clusterip"),
    Flag("external-name"),
    Flag("from-literal", kind="list"),
    Flag("from-file", kind="list"),
    Flag("from-env-file", kind="list"),
    Flag("type"),
    Flag("cert"),
    Flag("key"),
    Flag("docker-server", default="https://index.docker.io/v1/"),
    Flag("docker-username"),
    Flag("docker-password"),
    Flag("docker-email"),
    Flag("verb", kind="list"),
    Flag("resource", kind="list"),
    Flag("resource-name", kind="list"),
    Flag("non-resource-url", kind="list"),
    Flag("role"),
    Flag("clusterrole"),
    Flag("user", kind="list"),
    Flag("group", kind="list"),
    Flag("serviceaccount", kind="list"),
    Flag("schedule"),
    Flag("restart"),
    Flag("from"),
    Flag("duration", default="0s"),
    Flag("audience", kind="list"),
    Flag("append-hash", kind="bool", default=False),
]


def _meta(f: Any, name: str, labels: Obj | None = None, namespaced: bool = True) -> Obj:
    meta: Obj = {}
    if labels:
        meta["labels"] = labels
    meta["name"] = name
    if namespaced and f.explicit_namespace:
        meta["namespace"] = f.namespace
    return meta


def _name_arg(args: list[str], what: str) -> str:
    if not args:
        raise CommandError("NAME is required")
    if len(args) > 1:
        raise CommandError(f"exactly one NAME is required, got {len(args)}")
    return args[0]


def container_name(image: str) -> str:
    """kubectl's container name for an image: last path part without tag or digest."""
    name = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
    return name.replace("_", "-")


def deployment(f: Any, o: Any, args: list[str], command: list[str]) -> Obj:
    name = _name_arg(args, "deployment")
    if not o.image:
        raise CommandError('required flag(s) "image" not set')
    labels = {"app": name}
    containers: list[Obj] = []
    seen: dict[str, int] = {}
    for image in o.image:
        cname = container_name(image)
        if cname in seen:
            seen[cname] += 1
            cname = f"{cname}-{seen[cname]}"
        else:
            seen[cname] = 0
        containers.append({"image": image, "name": cname, "resources": {}})
    if command:
        containers[0]["command"] = list(command)
    port = int(o.port)
    if port >= 0:
        containers[0]["ports"] = [{"containerPort": port}]
    spec = {
        "replicas": o.replicas,
        "selector": {"matchLabels": dict(labels)},
        "strategy": {},
        "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": containers}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(f, name, labels),
        "spec": spec,
        "status": {},
    }


def _port_value(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def service(f: Any, o: Any, args: list[str], command: list[str]) -> Obj:
    if not args:
        raise CommandError(
            "Usage: kubectl create service (clusterip|nodeport|loadbalancer|externalname) NAME"
        )
    kind = args[0]
    types = {
        "clusterip": "ClusterIP",
        "nodeport": "NodePort",
        "loadbalancer": "LoadBalancer",
        "externalname": "ExternalName",
    }
    if kind not in types:
        raise CommandError(f'unknown service type "{kind}"')
    name = _name_arg(args[1:], "service")
    spec: Obj = {}
    if o.clusterip:
        spec["clusterIP"] = o.clusterip
    ports = []
    for spec_text in o.tcp or []:
        port, _, target = spec_text.partition(":")
        entry: Obj = {"name": f"{port}-{target}" if target else port}
        if o.node_port:
            entry["nodePort"] = o.node_port
        entry.update(
            {"port": int(port), "protocol": "TCP", "targetPort": _port_value(target or port)}
        )
        ports.append(entry)
    if ports:
        spec["ports"] = ports
    labels = {"app": name}
    if types[kind] == "ExternalName":
        spec["externalName"] = o.external_name
        labels = {"app": name}
    else:
        spec["selector"] = dict(labels)
    spec["type"] = types[kind]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(f, name, labels),
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


def _literals(values: list[str]) -> Obj:
    out: Obj = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"invalid literal source {item}, expected key=value")
        out[key] = value
    return out


def _files(values: list[str]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for item in values:
        key, sep, path = item.partition("=")
        if not sep:
            key, path = Path(item).name, item
        p = Path(path)
        if p.is_dir():
            for child in sorted(p.iterdir()):
                if child.is_file():
                    out[child.name] = child.read_bytes()
        else:
            try:
                out[key] = p.read_bytes()
            except OSError:
                raise CommandError(f"error reading {path}: no such file or directory") from None
    return out


def _env_files(values: list[str]) -> Obj:
    out: Obj = {}
    for path in values:
        for line in Path(path).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                out[key] = value
    return out


def configmap(f: Any, o: Any, args: list[str], command: list[str]) -> Obj:
    name = _name_arg(args, "configmap")
    data: Obj = {**_literals(o.from_literal or []), **_env_files(o.from_env_file or [])}
    binary: Obj = {}
    for key, raw in _files(o.from_file or []).items():
        try:
            data[key] = raw.decode()
        except UnicodeDecodeError:
            binary[key] = base64.b64encode(raw).decode()
    obj: Obj = {"apiVersion": "v1"}
    if binary:
        obj["binaryData"] = binary
    if data:
        obj["data"] = data
    obj.update({"kind": "ConfigMap", "metadata": _meta(f, name)})
    return obj


def _b64(value: str | bytes) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


def secret(f: Any, o: Any, args: list[str], command: list[str]) -> Obj:
    if not args or args[0] not in ("generic", "tls", "docker-registry"):
        raise CommandError("Usage: kubectl create secret (docker-registry|generic|tls) NAME")
    kind, name = args[0], _name_arg(args[1:], "secret")
    data: Obj = {}
    secret_type = o.type or ""
    if kind == "generic":
        data = {
            k: _b64(v)
            for k, v in {
                **_literals(o.from_literal or []),
                **_env_files(o.from_env_file or []),
            }.items()
        }
        data.update({k: _b64(v) for k, v in _files(o.from_file or []).items()})
    elif kind == "tls":
        cert, key = Path(o.cert).read_bytes(), Path(o.key).read_bytes()
        if b"-----BEGIN" not in cert:
            raise CommandError("tls: failed to find any PEM data in certificate input")
        if b"-----BEGIN" not in key:
            raise CommandError("tls: failed to find any PEM data in key input")
        data = {"tls.crt": _b64(cert), "tls.key": _b64(key)}
        secret_type = "kubernetes.io/tls"
    else:
        import json

        auth = _b64(f"{o.docker_username}:{o.docker_password}")
        entry = {
            "username": o.docker_username,
            "password": o.docker_password,
            "email": o.docker_email,
            "auth": auth,
        }
        if not o.docker_email:
            entry.pop("email")
        cfg = {"auths": {o.docker_server: entry}}
        data = {".dockerconfigjson": _b64(json.dumps(cfg, separators=(",", ":")))}
        secret_type = "kubernetes.io/dockerconfigjson"
    obj: Obj = {"apiVersion": "v1"}
    if data:
        obj["data"] = data
    obj.update({"kind": "Secret", "metadata": _meta(f, name)})
    if secret_type:
        obj["type"] = secret_type
    return obj


def namespace(f: Any, o: Any, args: list[str], command: list[str]) -> Obj:
    name = _name_arg(args, "namespace")
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name},
        "spec": {},
        "status": {},
    }


def serviceaccount(f: Any, o: Any, args: list[str], command: list[str]) -> Obj:
    name = _name_arg(args, "serviceaccount")
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(f, name)}


def _pod_template(name: str, image: str, command: list[str], restart: str) -> Obj:
    container: Obj = {}
    if command:
        container["command"] = list(command)
    container.update({"image": image, "name": name, "resources": {}})
    return {"metadata": {}, "spec": {"containers": [container], "restartPolicy": restart}}


def job(f: Any, o: Any, args: list[str], command: list[str]) -> Obj:
    name = _name_arg(args, "job")
    if not o.image:
        raise CommandError("either --image or --from must be specified")
    spec = {"template": _pod_template(name, o.image[0], command, "Never")}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(f, name),
        "spec": spec,
        "status": {},
    }


def cronjob(f: Any, o: Any, args: list[str], command: list[str]) -> Obj:
    name = _name_arg(args, "cronjob")
    if not o.image:
        raise CommandError('required flag(s) "image" not set')
    if not o.schedule:
        raise CommandError('required flag(s) "schedule" not set')
    restart = o.restart or "OnFailure"
    template = {
        "metadata": {"name": name},
        "spec": {"template": _pod_template(name, o.image[0], command, restart)},
    }
    spec = {"jobTemplate": template, "schedule": o.schedule}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _meta(f, name),
        "spec": spec,
        "status": {},
    }


async def _rules(f: Any, o: Any) -> list[Obj]:
    if not o.verb:
        raise CommandError("at least one verb must be specified")
    verbs = [v for value in o.verb for v in value.split(",") if v]
    groups: dict[str, list[str]] = {}
    for value in o.resource or []:
        for word in value.split(","):
            base, _, sub = word.partition("/")
            mapping = await f.discovery.find(base)
            groups.setdefault(mapping.group, []).append(
                mapping.resource + (f"/{sub}" if sub else "")
            )
    names = [n for value in o.resource_name or [] for n in value.split(",") if n]
    rules = []
    for group in sorted(groups):
        rule: Obj = {"apiGroups": [group], "resources": groups[group]}
        if names:
            rule["resourceNames"] = names
        rule["verbs"] = verbs
        rules.append(rule)
    if o.non_resource_url:
        rules.append({"nonResourceURLs": list(o.non_resource_url), "verbs": verbs})
    return rules


async def role(f: Any, o: Any, args: list[str], command: list[str], cluster: bool = False) -> Obj:
    name = _name_arg(args, "role")
    kind = "ClusterRole" if cluster else "Role"
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": _meta(f, name, namespaced=not cluster),
        "rules": await _rules(f, o),
    }


def _subjects(o: Any) -> list[Obj]:
    rbac = "rbac.authorization.k8s.io"
    subjects = [{"apiGroup": rbac, "kind": "User", "name": u} for u in o.user or []]
    subjects += [{"apiGroup": rbac, "kind": "Group", "name": g} for g in o.group or []]
    for sa in o.serviceaccount or []:
        ns, sep, sa_name = sa.partition(":")
        if not sep:
            raise CommandError("serviceaccount must be <namespace>:<name>")
        subjects.append({"kind": "ServiceAccount", "name": sa_name, "namespace": ns})
    return subjects


def rolebinding(f: Any, o: Any, args: list[str], command: list[str], cluster: bool = False) -> Obj:
    name = _name_arg(args, "rolebinding")
    if o.role and o.clusterrole:
        raise CommandError("exactly one of clusterrole or role must be specified")
    ref_kind, ref = ("Role", o.role) if o.role else ("ClusterRole", o.clusterrole)
    if not ref:
        raise CommandError("exactly one of clusterrole or role must be specified")
    obj: Obj = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding" if cluster else "RoleBinding",
        "metadata": _meta(f, name, namespaced=not cluster),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind, "name": ref},
    }
    subjects = _subjects(o)
    if subjects:
        obj["subjects"] = subjects
    return obj


GENERATORS = {
    "deployment": ("deployments.apps", deployment),
    "deploy": ("deployments.apps", deployment),
    "service": ("services", service),
    "svc": ("services", service),
    "configmap": ("configmaps", configmap),
    "cm": ("configmaps", configmap),
    "secret": ("secrets", secret),
    "namespace": ("namespaces", namespace),
    "ns": ("namespaces", namespace),
    "serviceaccount": ("serviceaccounts", serviceaccount),
    "sa": ("serviceaccounts", serviceaccount),
    "job": ("jobs.batch", job),
    "cronjob": ("cronjobs.batch", cronjob),
    "cj": ("cronjobs.batch", cronjob),
    "role": ("roles.rbac.authorization.k8s.io", role),
    "clusterrole": (
        "clusterroles.rbac.authorization.k8s.io",
        lambda f, o, a, c: role(f, o, a, c, True),
    ),
    "rolebinding": ("rolebindings.rbac.authorization.k8s.io", rolebinding),
    "clusterrolebinding": (
        "clusterrolebindings.rbac.authorization.k8s.io",
        lambda f, o, a, c: rolebinding(f, o, a, c, True),
    ),
}


# How kubectl words a failed create, per generator (namespace and role have no wrapper).
FAILURE_PREFIX = {
    deployment: "failed to create deployment: ",
    configmap: "failed to create configmap: ",
    secret: "failed to create secret ",
    serviceaccount: "failed to create serviceaccount: ",
    job: "failed to create job: ",
    cronjob: "failed to create cronjob: ",
    rolebinding: "failed to create rolebinding: ",
}


def _failure_prefix(which: str, args: list[str]) -> str:
    if which == "clusterrolebinding":
        return "failed to create clusterrolebinding: "
    if which in ("service", "svc"):
        kinds = {
            "clusterip": "ClusterIP",
            "nodeport": "NodePort",
            "loadbalancer": "LoadBalancer",
            "externalname": "ExternalName",
        }
        return f"failed to create {kinds.get(args[0] if args else '', '')} service: "
    return FAILURE_PREFIX.get(GENERATORS[which][1], "")  # type: ignore[call-overload]


async def build(f: Any, o: Any, which: str, args: list[str], command: list[str]) -> tuple[Any, Obj]:
    """(mapping, object) for ``create <which> args``."""
    import inspect

    if which not in GENERATORS:
        raise CommandError(f'unknown command "{which}" for "kubectl create"')
    resource, builder = GENERATORS[which]
    obj = builder(f, o, args, command)
    if inspect.isawaitable(obj):
        obj = await obj
    return await f.discovery.find(resource), obj


async def run(f: Any, o: Any, which: str, args: list[str], command: list[str]) -> int:
    from tinykube.kubectl.commands.create import create_object, report
    from tinykube.kubectl.output import parse_output

    if which == "token":
        from tinykube.kubectl.commands.token import create_token

        return await create_token(f, o, args)
    fmt = parse_output(o.output)
    mapping, obj = await build(f, o, which, args, command)
    if o.save_config:
        from tinykube.kubectl.commands.apply import modified_configuration

        obj, _ = modified_configuration(obj)
    ns = f.namespace if mapping.namespaced else ""
    try:
        result = await create_object(f, o, mapping, ns, obj)
    except APIError as exc:
        prefix = _failure_prefix(which, args)
        if not prefix:
            raise
        raise CommandError(prefix + exc.message) from None
    report(f, o, fmt, mapping, result, "created")
    return 0
