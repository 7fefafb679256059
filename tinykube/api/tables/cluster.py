"""Printers for cluster-administration kinds: RBAC bindings, PriorityClasses, Leases, CSRs.

Roles and ClusterRoles have no printer upstream and get the default table.
Binding subjects split into USERS, GROUPS and SERVICEACCOUNTS (the last as
``namespace/name``), each joined with ``", "``.
"""

from __future__ import annotations

from datetime import datetime

from tinykube.api import duration
from tinykube.api.tables._common import (
    AGE,
    NAME,
    Cells,
    Obj,
    Printer,
    age_of,
    col,
    dig,
    name_of,
)


def binding_subjects(binding: Obj) -> tuple[str, str, str]:
    users, groups, accounts = [], [], []
    for subject in binding.get("subjects") or []:
        kind, name = subject.get("kind"), str(subject.get("name", ""))
        if kind == "ServiceAccount":
            accounts.append(f"{subject.get('namespace', '')}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
    return ", ".join(users), ", ".join(groups), ", ".join(accounts)


def _binding_cells(binding: Obj, now: datetime) -> Cells:
    ref = binding.get("roleRef") or {}
    return [
        name_of(binding),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        age_of(binding, now),
        *binding_subjects(binding),
    ]


def _binding_printer(scope: str) -> Printer:
    return Printer(
        (
            NAME,
            col("Role", "The role granted, as Kind/name."),
            AGE,
            col("Users", f"Users in the {scope}.", priority=1),
            col("Groups", f"Groups in the {scope}.", priority=1),
            col("ServiceAccounts", f"Service accounts in the {scope}.", priority=1),
        ),
        _binding_cells,
    )


PRIORITY_CLASS = Printer(
    (
        NAME,
        col("Value", "The priority given to pods of this class.", "integer"),
        col("Global-Default", "Whether pods without a class get this one.", "boolean"),
        AGE,
        col("PreemptionPolicy", "Whether pods of this class may preempt others."),
    ),
    lambda pc, now: [
        name_of(pc),
        int(pc.get("value") or 0),
        bool(pc.get("globalDefault")),
        age_of(pc, now),
        pc.get("preemptionPolicy") or "",
    ],
)

LEASE = Printer(
    (NAME, col("Holder", "Who holds the lease."), AGE),
    lambda lease, now: [
        name_of(lease),
        dig(lease, "spec", "holderIdentity", default=""),
        age_of(lease, now),
    ],
)


def csr_condition(csr: Obj) -> str:
    """``Pending``, ``Approved`` or ``Denied``, then ``,Failed`` and ``,Issued`` as they apply."""
    kinds = {c.get("type") for c in dig(csr, "status", "conditions", default=[]) or []}
    text = "Denied" if "Denied" in kinds else "Approved" if "Approved" in kinds else "Pending"
    if "Failed" in kinds:
        text += ",Failed"
    if dig(csr, "status", "certificate"):
        text += ",Issued"
    return text


def _requested_duration(csr: Obj) -> str:
    seconds = dig(csr, "spec", "expirationSeconds")
    return "<none>" if seconds is None else duration.human_duration(float(seconds))


CSR = Printer(
    (
        NAME,
        AGE,
        col("SignerName", "Who is asked to sign the certificate."),
        col("Requestor", "The user who asked for the certificate."),
        col("RequestedDuration", "How long the certificate should be valid for."),
        col("Condition", "Approval and issuance of the request."),
    ),
    lambda csr, now: [
        name_of(csr),
        age_of(csr, now),
        dig(csr, "spec", "signerName", default="") or "<none>",
        dig(csr, "spec", "username", default=""),
        _requested_duration(csr),
        csr_condition(csr),
    ],
)

PRINTERS = {
    ("certificates.k8s.io", "CertificateSigningRequest"): CSR,
    ("rbac.authorization.k8s.io", "RoleBinding"): _binding_printer("roleBinding"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _binding_printer("clusterRoleBinding"),
    ("scheduling.k8s.io", "PriorityClass"): PRIORITY_CLASS,
    ("coordination.k8s.io", "Lease"): LEASE,
}
