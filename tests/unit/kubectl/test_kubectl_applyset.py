"""ApplySet pruning: the parent's id, the flags that go with --applyset, member labels."""

from __future__ import annotations

import pytest

from tinykube.kubectl.commands import applyset
from tinykube.kubectl.discovery import Mapping
from tinykube.kubectl.errors import CommandError
from tinykube.kubectl.flags import Parsed
from tinykube.kubectl.resources import Item

CONFIGMAPS = Mapping("", "v1", "ConfigMap", "configmaps", "configmap")
DEPLOYMENTS = Mapping("apps", "v1", "Deployment", "deployments", "deployment")
SECRETS = Mapping("", "v1", "Secret", "secrets", "secret")


def test_id_is_kubectls_hash_of_name_namespace_kind_group() -> None:
    # The value the real kubectl wrote for --applyset=set1 -n as1.
    expected = "applyset-T_ycqxUjnOYjhLAP_dNrVBEJzeuz2_C7ry_Q7gB4doo-v1"
    assert applyset.applyset_id("set1", "as1", "Secret", "") == expected


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"prune": False}, "--applyset requires --prune"),
        ({"selector": "a=b"}, "--selector is incompatible with --applyset"),
        ({"all": True}, "--all is incompatible with --applyset"),
        ({"prune_allowlist": ["core/v1/Secret"]}, "--prune-allowlist is incompatible"),
    ],
)
def test_flags_that_do_not_go_with_applyset(flags: dict[str, object], message: str) -> None:
    values = {"prune": True, "selector": None, "all": False, "prune_allowlist": [], **flags}
    with pytest.raises(CommandError, match=message):
        applyset.validate_flags(Parsed(values, []))


def test_members_are_labelled_and_group_kinds_sorted() -> None:
    aset = applyset.ApplySet(SECRETS, "set1", "as1")
    items = [
        Item("f", {"metadata": {"name": "d", "labels": {"app": "d"}}}, DEPLOYMENTS, "as2"),
        Item("f", {"metadata": {"name": "c"}}, CONFIGMAPS, "as1"),
    ]
    aset.label(items)
    assert items[0].obj["metadata"]["labels"] == {"app": "d", applyset.PART_OF: aset.id}
    assert items[1].obj["metadata"]["labels"] == {applyset.PART_OF: aset.id}
    kinds, namespaces = aset._kinds_and_namespaces(items)
    assert ",".join(sorted(kinds)) == "ConfigMap,Deployment.apps"
    assert namespaces == {"as2"}  # the parent's own namespace is not "additional"


def test_enabled_only_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECTL_APPLYSET", "TRUE")
    assert applyset.enabled()
    monkeypatch.setenv("KUBECTL_APPLYSET", "1")
    assert not applyset.enabled()
