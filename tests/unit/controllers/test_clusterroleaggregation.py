"""Aggregated ClusterRoles hold the rules of the roles their selectors match, stably."""

from __future__ import annotations

from tinykube.controllers.clusterroleaggregation import aggregated_rules


def role(name: str, labels: dict[str, str], rules: list[dict]) -> dict:
    return {"metadata": {"name": name, "labels": labels}, "rules": rules}


def test_rules_of_matching_roles_in_name_order_without_repeats() -> None:
    read = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}
    write = {"verbs": ["create"], "apiGroups": [""], "resources": ["pods"]}
    target = {
        "metadata": {"name": "view"},
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "true"}}]},
    }
    roles = [
        target,
        role("zz", {"agg": "true"}, [write, read]),
        role("aa", {"agg": "true"}, [read]),
        role("other", {"agg": "false"}, [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]),
    ]
    assert aggregated_rules(target, roles) == [read, write]
    assert aggregated_rules(target, [target]) == []
