"""``kubectl create <generator>``: objects built locally from flags, as kubectl builds them.

Each generator returns the object kubectl would send, field for field (the
exam's way to write YAML is ``--dry-run=client -o yaml``), including the
empty ``status: {}`` and ``resources: {}`` that come from Go's zero values.
The namespace is written into the object only when ``-n`` was given, as
kubectl's ``EnforceNamespace`` does. Then ``create.create_object`` sends it.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import APIError
from tinykube.kubectl.commands.genbase import name_arg, object_meta
from tinykube.kubectl.commands.gendata import configmap, secret
from tinykube.kubectl.commands.genrbac import role, rolebinding
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


def container_name(image: str) -> str:
    """kubectl's container name for an image: last path part without tag or digest."""
    name = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
    return name.replace("_", "-")


def deployment(f: Any, o: Any, args: list[str], command: list[str]) -> Obj:
    name = name_arg(args, "deployment")
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
        "metadata": object_meta(f, name, labels),
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
    name = name_arg(args[1:], "service")
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
        "metadata": object_meta(f, name, labels),
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


def namespace(f: Any, o: Any, args: list[str], command: list[str]) -> Obj:
    name = name_arg(args, "namespace")
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name},
        "spec": {},
        "status": {},
    }


def serviceaccount(f: Any, o: Any, args: list[str], command: list[str]) -> Obj:
    name = name_arg(args, "serviceaccount")
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": object_meta(f, name)}


def _pod_template(name: str, image: str, command: list[str], restart: str) -> Obj:
    container: Obj = {}
    if command:
        container["command"] = list(command)
    container.update({"image": image, "name": name, "resources": {}})
    return {"metadata": {}, "spec": {"containers": [container], "restartPolicy": restart}}


def job(f: Any, o: Any, args: list[str], command: list[str]) -> Obj:
    name = name_arg(args, "job")
    if not o.image:
        raise CommandError("either --image or --from must be specified")
    spec = {"template": _pod_template(name, o.image[0], command, "Never")}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": object_meta(f, name),
        "spec": spec,
        "status": {},
    }


def cronjob(f: Any, o: Any, args: list[str], command: list[str]) -> Obj:
    name = name_arg(args, "cronjob")
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
        "metadata": object_meta(f, name),
        "spec": spec,
        "status": {},
    }


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
    report(f, o, fmt, mapping, result, "created", typed=True)
    return 0
