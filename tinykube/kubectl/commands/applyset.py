"""``kubectl apply --prune --applyset=[RESOURCE/]NAME``: pruning by ApplySet (KEP-3659).

Enabled, as in kubectl, only when ``KUBECTL_APPLYSET=true``. An ApplySet
is a parent object (a Secret by default, or a ConfigMap, in the namespace
given with ``-n``) that records which objects one ``apply`` manages:

- the parent carries the label ``applyset.kubernetes.io/id`` =
  ``applyset-<base64url(sha256("<name>.<namespace>.<Kind>.<group>"))>-v1``
  and the annotations ``applyset.kubernetes.io/tooling`` (``kubectl/<version>``),
  ``contains-group-kinds`` (sorted ``Kind.group`` list of what it holds) and
  ``additional-namespaces`` (member namespaces other than its own);
- every applied object gets the label ``applyset.kubernetes.io/part-of`` =
  the id (so it is also in the last-applied configuration).

One run: read the parent (an existing object that is not kubectl's ApplySet
is an error); before applying, write the parent with the union of the kinds
and namespaces it listed and those about to be applied, so a failure
midway still leaves every member findable; apply; list each recorded kind
in each recorded namespace by the part-of label and delete what this run
did not apply (``<kind>/<name> pruned``); finally write the parent with
exactly this run's kinds and namespaces. The parent is written by
server-side apply as field manager ``kubectl-applyset``. Dry runs write
nothing and only report. kubectl prunes kinds in Go map order (random);
tkctl prunes them sorted.
"""

from __future__ import annotations

import os
from typing import Any

from tinykube.kubectl import mutate
from tinykube.kubectl.commands.prune import delete
from tinykube.kubectl.commands.version import CLIENT
from tinykube.kubectl.errors import CommandError
from tinykube.kubectl.resources import Item

PREFIX = "applyset.kubernetes.io/"
ID_LABEL = PREFIX + "id"
PART_OF = PREFIX + "part-of"
TOOLING = PREFIX + "tooling"
GROUP_KINDS = PREFIX + "contains-group-kinds"
NAMESPACES = PREFIX + "additional-namespaces"
FIELD_MANAGER = "kubectl-applyset"
TOOLING_VALUE = f"kubectl/{CLIENT['gitVersion']}"
PARENT_TYPES = {("", "secrets"), ("", "configmaps")}
ENV = "KUBECTL_APPLYSET"

Obj = dict[str, Any]


def enabled() -> bool:
    return os.environ.get(ENV, "").lower() == "true"


def validate_flags(o: Any) -> None:
    """kubectl's checks of the flags that go with ``--applyset``."""
    if not o.prune:
        raise CommandError("--applyset requires --prune")
    if o.selector:
        raise CommandError("--selector is incompatible with --applyset")
    if o.all:
        raise CommandError("--all is incompatible with --applyset")
    if o.prune_allowlist:
        raise CommandError("--prune-allowlist is incompatible with --applyset")


def applyset_id(name: str, namespace: str, kind: str, group: str) -> str:
    import base64
    import hashlib

    digest = hashlib.sha256(f"{name}.{namespace}.{kind}.{group}".encode()).digest()
    return f"applyset-{base64.urlsafe_b64encode(digest).decode().rstrip('=')}-v1"


def group_kind(mapping: Any) -> str:
    return f"{mapping.kind}.{mapping.group}" if mapping.group else mapping.kind


class ApplySet:
    """One ApplySet: its parent, what the parent recorded, and this run's members."""

    def __init__(self, parent: Any, name: str, namespace: str) -> None:
        self.parent, self.name, self.namespace = parent, name, namespace
        self.id = applyset_id(name, namespace, parent.kind, parent.group)
        self.recorded_kinds: set[str] = set()
        self.recorded_namespaces: set[str] = set()

    @property
    def reference(self) -> str:
        return f"{self.parent.resource}.{self.parent.group}/{self.name}"

    async def fetch(self, f: Any) -> None:
        """Read what the live parent records; reject one that kubectl does not own."""
        from tinykube.api import errors as api

        try:
            live = await f.client.call("GET", self.parent.path(self.namespace, self.name))
        except api.NotFound:
            return
        meta = live.get("metadata") or {}
        labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
        if TOOLING not in annotations:
            raise CommandError(
                f'ApplySet parent object "{self.reference}" already exists and is missing '
                f'required annotation "{TOOLING}"'
            )
        tool = annotations[TOOLING].partition("/")[0]
        if tool != "kubectl":
            raise CommandError(
                f'ApplySet parent object "{self.reference}" already exists and is managed by '
                f'tooling "{tool}" instead of "kubectl"'
            )
        if ID_LABEL not in labels:
            raise CommandError(
                f'ApplySet parent object "{self.reference}" exists and does not have required '
                f"label {ID_LABEL}"
            )
        if labels[ID_LABEL] != self.id:
            raise CommandError(
                f'ApplySet parent object "{self.reference}" exists and has incorrect value for '
                f'label "{ID_LABEL}" (got: {labels[ID_LABEL]}, want: "{self.id}")'
            )
        self.recorded_kinds = {k for k in annotations.get(GROUP_KINDS, "").split(",") if k}
        self.recorded_namespaces = {n for n in annotations.get(NAMESPACES, "").split(",") if n}

    def label(self, items: list[Item]) -> None:
        """Mark every manifest as a member before it is applied."""
        for item in items:
            meta = item.obj.setdefault("metadata", {})
            meta["labels"] = {**(meta.get("labels") or {}), PART_OF: self.id}

    def _kinds_and_namespaces(self, items: list[Item]) -> tuple[set[str], set[str]]:
        kinds = {group_kind(i.mapping) for i in items}
        namespaces = {i.namespace for i in items if i.namespace and i.namespace != self.namespace}
        return kinds, namespaces

    async def before_apply(self, f: Any, o: Any, items: list[Item]) -> None:
        kinds, namespaces = self._kinds_and_namespaces(items)
        await self._write(f, o, kinds | self.recorded_kinds, namespaces | self.recorded_namespaces)

    async def after_prune(self, f: Any, o: Any, items: list[Item]) -> None:
        await self._write(f, o, *self._kinds_and_namespaces(items))

    async def _write(self, f: Any, o: Any, kinds: set[str], namespaces: set[str]) -> None:
        if mutate.dry_run(o) != "none":
            return
        from tinykube.kubectl.printers import compact_json

        parent: Obj = {
            "apiVersion": self.parent.api_version,
            "kind": self.parent.kind,
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {ID_LABEL: self.id},
                "annotations": {
                    TOOLING: TOOLING_VALUE,
                    GROUP_KINDS: ",".join(sorted(kinds)),
                    NAMESPACES: ",".join(sorted(namespaces)),
                },
            },
        }
        await f.client.call(
            "PATCH",
            self.parent.path(self.namespace, self.name),
            params={"fieldManager": FIELD_MANAGER, "force": "true"},
            body=compact_json(parent).encode(),
            content_type="application/apply-patch+yaml",
        )

    async def prune(self, f: Any, o: Any, items: list[Item]) -> None:
        """Delete members of the recorded kinds and namespaces that this run did not apply."""
        kinds, namespaces = self._kinds_and_namespaces(items)
        applied = {(group_kind(i.mapping), i.namespace, i.name) for i in items}
        mode = mutate.dry_run(o)
        for mapping in await self._mappings(f, kinds | self.recorded_kinds):
            where = [self.namespace, *sorted(namespaces | self.recorded_namespaces)]
            for ns in where if mapping.namespaced else [""]:
                listing = await f.client.call(
                    "GET", mapping.path(ns), params={"labelSelector": f"{PART_OF}={self.id}"}
                )
                for obj in listing.get("items") or []:
                    meta = obj.get("metadata") or {}
                    name = meta.get("name", "")
                    if (group_kind(mapping), meta.get("namespace", ""), name) in applied:
                        continue
                    await delete(f, mode, mapping, meta.get("namespace", ""), name)
                    f.out.write(f"{mapping.kind_prefix}/{name} pruned{mutate.suffix(mode)}\n")

    async def _mappings(self, f: Any, kinds: set[str]) -> list[Any]:
        wanted = {tuple(k.partition(".")[::2]) for k in kinds}
        found: dict[tuple[str, str], Any] = {}
        for m in await f.discovery.mappings():
            if (m.kind, m.group) in wanted:
                found.setdefault((m.kind, m.group), m)  # the preferred version comes first
        return [found[k] for k in sorted(found, key=lambda k: f"{k[0]}.{k[1]}" if k[1] else k[0])]


async def parse(f: Any, o: Any) -> ApplySet:
    """``--applyset=[RESOURCE[.GROUP]/]NAME`` (a Secret when no resource is named)."""
    ref = o.applyset
    resource, sep, name = ref.rpartition("/")
    if not sep:
        resource = "secrets"
    parent = await _parent_mapping(f, ref, resource)
    if not f.explicit_namespace:
        raise CommandError("namespace is required to use namespace-scoped ApplySet")
    return ApplySet(parent, name, f.namespace)


async def _parent_mapping(f: Any, ref: str, resource: str) -> Any:
    name, _, group = resource.partition(".")
    for m in await f.discovery.mappings():
        names = {m.resource, m.singular or m.kind.lower()}
        if m.group == group and name.lower() in names:
            if (m.group, m.resource) not in PARENT_TYPES:
                await _custom_parent_type(f, m)
            return m
    raise CommandError(
        f'invalid parent reference "{ref}": no matches for {group}/, Resource={name}'
    )


async def _custom_parent_type(f: Any, m: Any) -> None:
    """A custom resource may be a parent when its CRD carries kubectl's parent-type label."""
    from tinykube.api import errors as api
    from tinykube.kubectl.errors import GENERIC_MESSAGES, BareError

    refused = (
        f'resource "{m.api_version}, Resource={m.resource}" is not permitted as an ApplySet parent'
    )
    try:
        crds = await f.client.call(
            "GET",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            params={"labelSelector": PREFIX + "is-parent-type=true"},
        )
    except api.APIError as exc:
        reason = exc.message or GENERIC_MESSAGES.get(exc.code, ("", ""))[1]
        raise BareError(
            f"identifying allowed custom resource parent types: {reason}\n{refused}"
        ) from None
    for crd in crds.get("items") or []:
        spec = crd.get("spec") or {}
        if spec.get("group") == m.group and (spec.get("names") or {}).get("kind") == m.kind:
            return
    raise BareError(refused)
