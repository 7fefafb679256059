"""Dynamic admission: the webhooks of Mutating/ValidatingWebhookConfigurations.

Data flow for one write::

    registry hooks ──► Dispatcher.mutate ──► matching.should_call (rules,
         │                │                  selectors, matchPolicy)
         │                └─► review.build_request ─► calling.post ─► review.verify_response
         │                     └─► JSON patch applied, object re-defaulted
         └─ after validation ─► Dispatcher.validate (the same, concurrently, no patches)

``matching`` and ``review`` are pure; ``calling`` is the only module that
talks to the network; ``dispatcher`` holds the compiled configurations and
decides what failurePolicy, sideEffects and reinvocationPolicy mean.
"""

from tinykube.apiserver.webhooks.dispatcher import Dispatcher

__all__ = ["Dispatcher"]
