"""Defaults for ``rbac.authorization.k8s.io/v1``.

Subjects of kind User or Group belong to the RBAC API group; a ServiceAccount
subject has the empty (core) group. Upstream fills ``apiGroup`` accordingly.
"""

from __future__ import annotations

from typing import Any

RBAC_GROUP = "rbac.authorization.k8s.io"


def default_binding(binding: dict[str, Any]) -> None:
    for subject in binding.get("subjects") or []:
        if isinstance(subject, dict) and not subject.get("apiGroup"):
            if subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = RBAC_GROUP
            elif subject.get("kind") == "ServiceAccount":
                subject["apiGroup"] = ""
    role_ref = binding.get("roleRef")
    if isinstance(role_ref, dict) and not role_ref.get("apiGroup"):
        role_ref["apiGroup"] = RBAC_GROUP


DEFAULTERS = {"RoleBinding": default_binding, "ClusterRoleBinding": default_binding}
