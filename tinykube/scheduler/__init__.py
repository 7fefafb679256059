"""kube-scheduler: gives every pending pod a node, with Kubernetes' scheduling framework.

The map, in the order data flows through it:

- ``scheduler``: informers in, the scheduling loop, binding, events, conditions;
  ``command`` is the ``tinykube scheduler`` entry point (``python -m
  tinykube.scheduler`` runs it too).
- ``queue``: active (priority, then time), backoff (1 s doubling to 10 s) and
  unschedulable pods; ``cache``: nodes with their bound and assumed pods.
- ``schedule_one``: one pod's filter, score and select, synchronous.
- ``runtime``: a profile's plugins sorted into extension points and run
  (and the per-node memo); ``config``: KubeSchedulerConfiguration.
- ``framework``: what plugins may see (codes, CycleState, NodeInfo, protocols);
  ``plugins``: one module per in-tree plugin and the table naming them.
- ``recorder`` (events.k8s.io/v1 events) and ``spreading`` (owner selectors
  for PodTopologySpread's cluster defaults).

The package imports nothing at import time so that plugins, which import
``tinykube.scheduler.framework``, stay free of the client and the loop.
"""
