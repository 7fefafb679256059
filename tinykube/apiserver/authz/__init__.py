"""Authorization: who may do what, decided after authentication, before any handler.

The API server asks, for every request, the question Kubernetes' authorizers
answer: may this user perform this verb on this resource (or non-resource
path)? ``attributes`` turns a request into that question; ``rules`` is the
pure PolicyRule matching of RBAC; ``rbac`` answers from the Roles,
ClusterRoles and their bindings in the watch cache, plus the Node
authorizer's fixed rules for kubelets; ``impersonation`` swaps the user for
``Impersonate-*`` headers once the real user may impersonate; ``policy`` is
the default roles and bindings every cluster starts with; ``escalation``
keeps users from granting permissions they do not hold.
"""
