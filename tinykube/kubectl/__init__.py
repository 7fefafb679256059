"""tinykube's kubectl: ``tinykube kubectl ...`` and the ``tkctl`` console script.

It prints what the real kubectl prints, byte for byte where we can, so users
(and the differential tests) can swap one for the other. The layout follows
kubectl's own: ``main`` parses global flags and dispatches to one module per
command under ``commands/``; ``discovery`` maps what users type (``po``,
``deploy.apps``, ``Pod``) to REST resources, caching the server's discovery
documents on disk in the same files kubectl uses; ``printers`` renders server
Tables and the machine formats; ``errors`` turns API failures into kubectl's
error lines. Commands import their dependencies lazily: start-up time is the
thing to beat.
"""
