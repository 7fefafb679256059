"""Printers for ``admissionregistration.k8s.io``: how many webhooks a configuration holds."""

from __future__ import annotations

from datetime import datetime

from tinykube.api.tables._common import AGE, NAME, Cells, Obj, Printer, age_of, col, name_of


def _cells(config: Obj, now: datetime) -> Cells:
    return [name_of(config), len(config.get("webhooks") or []), age_of(config, now)]


WEBHOOK_CONFIGURATION = Printer(
    (
        NAME,
        col("Webhooks", "The number of webhooks registered in this configuration.", "integer"),
        AGE,
    ),
    _cells,
)

PRINTERS = {
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): WEBHOOK_CONFIGURATION,
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): WEBHOOK_CONFIGURATION,
}
