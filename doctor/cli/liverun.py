"""What the live commands' modules share about one run: its one Kubernetes ApiClient, and the
online endpoint its arguments name."""

from __future__ import annotations


def kube_client(args):
    """The run's one ApiClient, made on first use: every Kubernetes call of a run (the v2 check,
    the collection, a watch or a scan) goes through its one connection pool and reads the
    kubeconfig once. :func:`close_kube_client` closes it at the end of the run."""
    client = getattr(args, "kube_client", None)
    if client is None:
        from aml_doctor.collect.kubernetes import api_client_for

        client = api_client_for(args.kubeconfig, args.context)
        args.kube_client = client
    return client


def close_kube_client(args) -> None:
    client = getattr(args, "kube_client", None)
    if client is not None:
        args.kube_client = None
        client.close()


def endpoint_of(args) -> str:
    """-e, else NAME (a list for ``aml-doctor NAME``, a string for ``collect NAME``)."""
    names = args.service if isinstance(getattr(args, "service", None), list) else [args.service] if getattr(args, "service", None) else []
    return getattr(args, "endpoint_name", None) or (names[0] if names else "")
