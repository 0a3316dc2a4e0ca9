"""A local stand-in for the Kubernetes API servers of Hedgehog fabrics, speaking the real REST protocol.

One process serves many fabrics, each under `/fabrics/<fabric>` with its own bearer token, over
HTTPS with a CA made per devlab (`tls`), so the official `kubernetes` client and kubectl work
against it unchanged (a kubeconfig's `server:` is `https://127.0.0.1:PORT/fabrics/<fabric>`, its
`certificate-authority-data` the devlab CA). Objects live in a `FabricStore` (`store`) that tests and
the demo also drive directly from Python. `FaultRules` (`faults`) put failures in front of chosen
requests. With a `ClusterObjectStore` (`cluster`), a served name also holds built-in objects
(Namespaces, Secrets, ConfigMaps, batch/v1 Jobs, ...): the cluster a Dagster run launcher creates its
Jobs in. The modules: constants, errors (Status bodies), patch, selectors, store, cluster, faults,
tls, app (the ASGI application), kubeconfig, server (start_apiserver), cli.
"""

from __future__ import annotations

from hedgehog_sync.devlab.apiserver.constants import (  # noqa: F401
    HOST,
    JSON_PATCH,
    MERGE_PATCH,
    NAMESPACE,
    SERVER_VERSION,
    WATCH_HISTORY,
)
from hedgehog_sync.devlab.apiserver.errors import (  # noqa: F401
    ApiError,
    status_body,
)
from hedgehog_sync.devlab.apiserver.patch import (  # noqa: F401
    json_patch,
    merge_patch,
)
from hedgehog_sync.devlab.apiserver.selectors import (  # noqa: F401
    field_selector,
    label_selector,
)
from hedgehog_sync.devlab.apiserver.store import (  # noqa: F401
    FabricStore,
)
from hedgehog_sync.devlab.apiserver.cluster import (  # noqa: F401
    CORE_KINDS,
    ClusterObjectStore,
    CoreKind,
)
from hedgehog_sync.devlab.apiserver.faults import (  # noqa: F401
    RuleList,
    FaultRule,
    FaultRules,
    seed_faults,
)
from hedgehog_sync.devlab.apiserver.tls import (  # noqa: F401
    DevlabCA,
    IssuedCertificate,
    ServerTLS,
)
from hedgehog_sync.devlab.apiserver.app import (  # noqa: F401
    DevlabApp,
    create_app,
)
from hedgehog_sync.devlab.apiserver.kubeconfig import (  # noqa: F401
    new_object,
    write_kubeconfig,
)
from hedgehog_sync.devlab.apiserver.server import (  # noqa: F401
    ApiServerHandle,
    start_apiserver,
)
from hedgehog_sync.devlab.apiserver.cli import (  # noqa: F401
    ServedFabric,
    main,
    read_served_fabrics,
)

__all__ = [
    "HOST",
    "JSON_PATCH",
    "MERGE_PATCH",
    "NAMESPACE",
    "SERVER_VERSION",
    "WATCH_HISTORY",
    "ApiError",
    "status_body",
    "json_patch",
    "merge_patch",
    "field_selector",
    "label_selector",
    "FabricStore",
    "CORE_KINDS",
    "ClusterObjectStore",
    "CoreKind",
    "FaultRule",
    "FaultRules",
    "RuleList",
    "seed_faults",
    "DevlabCA",
    "IssuedCertificate",
    "ServerTLS",
    "DevlabApp",
    "create_app",
    "new_object",
    "write_kubeconfig",
    "ApiServerHandle",
    "start_apiserver",
    "ServedFabric",
    "main",
    "read_served_fabrics",
]
