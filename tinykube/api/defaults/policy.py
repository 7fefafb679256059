"""Defaults for ``policy/v1``.

PodDisruptionBudget has no field defaults in v1 (v1beta1 used to default an
empty selector); the entry exists so the dispatch table covers the group and
a later default has an obvious home.
"""

from __future__ import annotations

from typing import Any


def default_pod_disruption_budget(pdb: dict[str, Any]) -> None:
    pdb.setdefault("spec", {})


DEFAULTERS = {"PodDisruptionBudget": default_pod_disruption_budget}
