"""CustomResourceDefinitions, served inside the API server as apiextensions-apiserver does.

Data flow: a CRD is written like any object (``definition`` defaults it,
``validation`` checks it). The watch cache tells ``controller.CRDController``
about every CRD event; it turns the CRD into resource-table rows
(``definition.rows``) at once, synchronously, so routing, discovery and
OpenAPI serve the new kind as soon as this server's cache has the CRD — each
API server of an HA pair does so from its own cache. The same controller
then writes the CRD's status (accepted names, Established) and, when the CRD
is deleted, removes every custom object before it lets the CRD go; a
periodic resync repairs what a watch-cache reload (which sends no events)
could leave stale.

Custom objects go through the generic registry; ``objects`` validates and
defaults them against their version's ``openAPIV3Schema`` (unknown fields are
pruned by the handlers' field validation, which sees that schema through
``api.schema``), ``printing`` makes their Table rows from
``additionalPrinterColumns`` and ``scale`` maps the scale subresource onto
the CRD's JSON paths.
"""

from __future__ import annotations

from tinykube.apiserver.crd.definition import (
    CRDS,
    FINALIZER,
    apply_crd_defaults,
    initial_status,
    version_info,
)
from tinykube.apiserver.crd.objects import admit_custom, deprecation
from tinykube.apiserver.crd.validation import validate_crd

__all__ = [
    "CRDS",
    "FINALIZER",
    "admit_custom",
    "apply_crd_defaults",
    "deprecation",
    "initial_status",
    "validate_crd",
    "version_info",
]
