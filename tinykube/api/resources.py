"""The resource table: every kind the API server serves, as discovery shows it.

Discovery documents, URL routing, storage keys, Table printers, OpenAPI
documents and kubectl's REST mapping all read this one table, so a resource
is added by adding a row. Field facts follow Kubernetes' own discovery
documents (plural, singular, short names, categories, verbs, subresources with
their own group/version/kind).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class Subresource:
    """A subresource such as ``status`` or ``scale``; it may answer with another kind."""

    name: str
    kind: str
    verbs: tuple[str, ...] = STATUS_VERBS
    group: str | None = None  # None: the parent's group and version
    version: str | None = None


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[Subresource, ...] = ()
    # Where objects live in storage; resources that are views of another one
    # (events.k8s.io Events over core Events) share that one's prefix.
    storage_resource: str = ""
    # Kubernetes bumps metadata.generation on spec changes for these kinds.
    tracks_generation: bool = False
    # The CustomResourceDefinition that serves this row ("" for built-in kinds).
    crd: str = ""
    list_kind_name: str = ""
    # The version custom objects are stored in; another served version is a view of it.
    storage_version: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    api_version = group_version

    @property
    def list_kind(self) -> str:
        return self.list_kind_name or f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """``pods`` or ``deployments.apps``: the name used in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def has_status(self) -> bool:
        return any(s.name == "status" for s in self.subresources)

    def subresource(self, name: str) -> Subresource | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None

    def storage_prefix(self) -> str:
        """``/registry/<resource>/``: every object of this resource lives under it."""
        return f"/registry/{self.storage_resource or self.plural}/"

    def key(self, namespace: str, name: str) -> str:
        if self.namespaced:
            return f"{self.storage_prefix()}{namespace}/{name}"
        return f"{self.storage_prefix()}{name}"

    def list_prefix(self, namespace: str = "") -> str:
        if self.namespaced and namespace:
            return f"{self.storage_prefix()}{namespace}/"
        return self.storage_prefix()


def _status() -> Subresource:
    return Subresource("status", "")


def _scale() -> Subresource:
    return Subresource("scale", "Scale", group="autoscaling", version="v1")


def _r(
    group: str,
    version: str,
    kind: str,
    plural: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    cats: tuple[str, ...] = (),
    subs: tuple[Subresource, ...] = (),
    verbs: tuple[str, ...] = ALL_VERBS,
    singular: str = "",
    storage: str = "",
    generation: bool = False,
) -> Resource:
    # A status subresource answers with the parent's own kind.
    subs = tuple(Subresource(s.name, kind, s.verbs) if s.kind == "" else s for s in subs)
    return Resource(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=singular or kind.lower(),
        namespaced=namespaced,
        short_names=short,
        categories=cats,
        verbs=verbs,
        subresources=subs,
        storage_resource=storage,
        tracks_generation=generation,
    )


ALL = ("all",)
POD_SUBRESOURCES = (
    Subresource("attach", "PodAttachOptions", ("create", "get")),
    Subresource("binding", "Binding", ("create",)),
    Subresource("ephemeralcontainers", "Pod"),
    Subresource("eviction", "Eviction", ("create",), group="policy", version="v1"),
    Subresource("exec", "PodExecOptions", ("create", "get")),
    Subresource("log", "Pod", ("get",)),
    Subresource("portforward", "PodPortForwardOptions", ("create", "get")),
    Subresource("proxy", "PodProxyOptions", ("create", "delete", "get", "patch", "update")),
    Subresource("status", "Pod"),
)
NAMESPACE_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")

# The order within a group version is the order discovery lists them; the
# order of groups is the server's group priority (core first).
RESOURCES: tuple[Resource, ...] = (
    # core/v1
    _r("", "v1", "Binding", "bindings", verbs=("create",)),
    _r("", "v1", "ComponentStatus", "componentstatuses", False, ("cs",), verbs=("get", "list")),
    _r("", "v1", "ConfigMap", "configmaps", short=("cm",)),
    _r("", "v1", "Endpoints", "endpoints", short=("ep",), singular="endpoints"),
    _r("", "v1", "Event", "events", short=("ev",)),
    _r("", "v1", "LimitRange", "limitranges", short=("limits",)),
    _r(
        "",
        "v1",
        "Namespace",
        "namespaces",
        False,
        ("ns",),
        subs=(Subresource("finalize", "Namespace", ("update",)), _status()),
        verbs=NAMESPACE_VERBS,
    ),
    _r(
        "",
        "v1",
        "Node",
        "nodes",
        False,
        ("no",),
        subs=(
            Subresource(
                "proxy", "NodeProxyOptions", ("create", "delete", "get", "patch", "update")
            ),
            _status(),
        ),
    ),
    _r(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        short=("pvc",),
        subs=(_status(),),
    ),
    _r("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",), subs=(_status(),)),
    _r("", "v1", "Pod", "pods", short=("po",), cats=ALL, subs=POD_SUBRESOURCES),
    _r("", "v1", "PodTemplate", "podtemplates"),
    _r(
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        short=("rc",),
        cats=ALL,
        subs=(_scale(), _status()),
        generation=True,
    ),
    _r("", "v1", "ResourceQuota", "resourcequotas", short=("quota",), subs=(_status(),)),
    _r("", "v1", "Secret", "secrets"),
    _r(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        short=("sa",),
        subs=(
            Subresource(
                "token", "TokenRequest", ("create",), group="authentication.k8s.io", version="v1"
            ),
        ),
    ),
    _r(
        "",
        "v1",
        "Service",
        "services",
        short=("svc",),
        cats=ALL,
        subs=(
            Subresource(
                "proxy", "ServiceProxyOptions", ("create", "delete", "get", "patch", "update")
            ),
            _status(),
        ),
    ),
    # apps/v1
    _r("apps", "v1", "ControllerRevision", "controllerrevisions"),
    _r(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        short=("ds",),
        cats=ALL,
        subs=(_status(),),
        generation=True,
    ),
    _r(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        short=("deploy",),
        cats=ALL,
        subs=(_scale(), _status()),
        generation=True,
    ),
    _r(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        short=("rs",),
        cats=ALL,
        subs=(_scale(), _status()),
        generation=True,
    ),
    _r(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        short=("sts",),
        cats=ALL,
        subs=(_scale(), _status()),
        generation=True,
    ),
    # admissionregistration.k8s.io/v1
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        False,
        cats=("api-extensions",),
    ),
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        False,
        cats=("api-extensions",),
    ),
    # authentication / authorization
    _r(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        False,
        verbs=("create",),
    ),
    _r("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", False, verbs=("create",)),
    _r(
        "authorization.k8s.io",
        "v1",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        verbs=("create",),
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        False,
        verbs=("create",),
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        False,
        verbs=("create",),
    ),
    _r(
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        "subjectaccessreviews",
        False,
        verbs=("create",),
    ),
    # autoscaling/v2 (stored so `get all` matches upstream's category)
    _r(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=("hpa",),
        cats=ALL,
        subs=(_status(),),
        generation=True,
    ),
    # autoscaling/v1: a view of the stored v2 objects (api.hpaview)
    _r(
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        short=("hpa",),
        subs=(_status(),),
        generation=True,
        storage="horizontalpodautoscalers",
    ),
    # batch/v1
    _r(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        short=("cj",),
        cats=ALL,
        subs=(_status(),),
        generation=True,
    ),
    _r("batch", "v1", "Job", "jobs", cats=ALL, subs=(_status(),), generation=True),
    # certificates.k8s.io/v1
    _r(
        "certificates.k8s.io",
        "v1",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        False,
        ("csr",),
        subs=(Subresource("approval", "", STATUS_VERBS), _status()),
    ),
    # coordination.k8s.io/v1
    _r("coordination.k8s.io", "v1", "Lease", "leases"),
    # discovery.k8s.io/v1
    _r("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    # events.k8s.io/v1: a second view of the core Events
    _r("events.k8s.io", "v1", "Event", "events", short=("ev",), storage="events"),
    # metrics.k8s.io/v1beta1 (served by the API server itself; upstream's metrics-server)
    _r("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", False, verbs=("get", "list")),
    _r("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", verbs=("get", "list")),
    # networking.k8s.io/v1
    _r("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False),
    _r(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        short=("ing",),
        subs=(_status(),),
        generation=True,
    ),
    _r(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        short=("netpol",),
        generation=True,
    ),
    # apiextensions.k8s.io/v1
    _r(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        cats=("api-extensions",),
        subs=(_status(),),
        generation=True,
    ),
    # policy/v1
    _r(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        short=("pdb",),
        subs=(_status(),),
        generation=True,
    ),
    # rbac.authorization.k8s.io/v1
    _r("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    # scheduling.k8s.io/v1
    _r("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, ("pc",)),
    # storage.k8s.io/v1
    _r("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",)),
)

# Resources whose verbs only accept a POST and answer without storing anything.
VIRTUAL = frozenset(
    {
        ("", "bindings"),
        ("authentication.k8s.io", "selfsubjectreviews"),
        ("authentication.k8s.io", "tokenreviews"),
        ("authorization.k8s.io", "localsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
        ("authorization.k8s.io", "subjectaccessreviews"),
        ("", "componentstatuses"),
        ("metrics.k8s.io", "nodes"),
        ("metrics.k8s.io", "pods"),
    }
)

_BY_GVR: dict[tuple[str, str, str], Resource] = {
    (r.group, r.version, r.plural): r for r in RESOURCES
}
_BY_GVK: dict[tuple[str, str, str], Resource] = {}
for _res in RESOURCES:
    _BY_GVK.setdefault((_res.group, _res.version, _res.kind), _res)

# Rows added at run time (custom resources), keyed by the CRD that serves them.
# Built-in rows always win a lookup; a dynamic row never shadows one.
_DYNAMIC: dict[str, tuple[Resource, ...]] = {}
_DYN_GVR: dict[tuple[str, str, str], Resource] = {}
_DYN_GVK: dict[tuple[str, str, str], Resource] = {}
_FINGERPRINTS: dict[str, str] = {}
_LISTENERS: list[Callable[[], None]] = []
_REVISION = [0]


def register(crd: str, rows: tuple[Resource, ...], fingerprint: str = "") -> None:
    """Serve ``rows`` for the CRD named ``crd``, replacing what it served before.

    Listeners (discovery and OpenAPI caches) are told only when the rows or the
    ``fingerprint`` (what else the documents show of the CRD: its schemas) changed."""
    if _DYNAMIC.get(crd) == rows and _FINGERPRINTS.get(crd) == fingerprint:
        return
    _DYNAMIC[crd] = rows
    _FINGERPRINTS[crd] = fingerprint
    _reindex()


def unregister(crd: str) -> None:
    _FINGERPRINTS.pop(crd, None)
    if _DYNAMIC.pop(crd, None) is not None:
        _reindex()


def dynamic() -> list[Resource]:
    """Every registered custom resource row."""
    return [r for rows in _DYNAMIC.values() for r in rows]


def add_listener(fn: Callable[[], None]) -> None:
    """``fn()`` runs after every change of the dynamic rows (to drop cached documents)."""
    _LISTENERS.append(fn)


def revision() -> int:
    """Bumped on each change of the dynamic rows: a cache key for derived documents."""
    return _REVISION[0]


def _reindex() -> None:
    _DYN_GVR.clear()
    _DYN_GVK.clear()
    for crd in sorted(_DYNAMIC):
        for r in _DYNAMIC[crd]:
            _DYN_GVR.setdefault((r.group, r.version, r.plural), r)
            _DYN_GVK.setdefault((r.group, r.version, r.kind), r)
    _REVISION[0] += 1
    for fn in _LISTENERS:
        fn()


def lookup(group: str, version: str, plural: str) -> Resource | None:
    """The resource served at ``/apis/<group>/<version>/<plural>``."""
    key = (group, version, plural)
    return _BY_GVR.get(key) or _DYN_GVR.get(key)


def by_kind(group: str, version: str, kind: str) -> Resource | None:
    key = (group, version, kind)
    return _BY_GVK.get(key) or _DYN_GVK.get(key)


def by_api_version(api_version: str, kind: str) -> Resource | None:
    group, _, version = api_version.rpartition("/")
    return by_kind(group, version, kind)


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _all() -> list[Resource]:
    return [*RESOURCES, *(r for r in _DYN_GVR.values() if not _BY_GVR.get(_gvr(r)))]


def _gvr(r: Resource) -> tuple[str, str, str]:
    return (r.group, r.version, r.plural)


def group_versions() -> list[tuple[str, str]]:
    """Every (group, version) served, core first, in priority order; custom groups last."""
    seen: list[tuple[str, str]] = []
    for r in _all():
        if (r.group, r.version) not in seen:
            seen.append((r.group, r.version))
    return seen


def resources_in(group: str, version: str) -> list[Resource]:
    return [r for r in _all() if r.group == group and r.version == version]


def is_stored(res: Resource) -> bool:
    """False for request-only resources (reviews, bindings) that have no storage."""
    return (res.group, res.plural) not in VIRTUAL
