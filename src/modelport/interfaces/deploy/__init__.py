"""Deploying served models: container build contexts, Kubernetes and KServe manifests,
and the Helm chart of the team server.

It reads the registry (which versions, which formats, which digests) and writes
files; it runs nothing. Replicas it describes share one store the way any
``modelport serve`` processes do.
"""
