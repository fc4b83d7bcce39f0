"""Build a gRPC server for any of the subnet's services, with signing, health, reflection and size caps.

``create_server`` only builds and binds; the caller starts it (``await server.start()``) and stops it with a
grace period, so tests bind port 0 and read the chosen port back::

    server, port = await create_server(service(my_miner, "Miner"), identity=hotkey, policy=policy)
    await server.start()
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from subnet.auth.policy import AccessPolicy
from subnet.auth.server_interceptor import AuthInterceptor
from subnet.auth.settings import DEFAULT_AUTH_SETTINGS, AuthSettings, MethodAuth
from subnet.keys import Keypair
from subnet.proto import subnet_pb2, subnet_pb2_grpc

DEFAULT_MAX_RECEIVE_MESSAGE_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_SEND_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class ServiceBinding:
    """A servicer with the function that registers it and its full name (for health and reflection)."""

    servicer: Any
    full_name: str
    add_to_server: Callable[[Any, grpc.aio.Server], None]


def service(servicer: Any, name: str) -> ServiceBinding:
    """Bind ``servicer`` to the service ``name`` of ``subnet/proto/subnet.proto`` (e.g. "Miner", "Chain")."""
    descriptor = subnet_pb2.DESCRIPTOR.services_by_name.get(name)
    if descriptor is None:
        known = sorted(subnet_pb2.DESCRIPTOR.services_by_name)
        raise ValueError(f"subnet.proto defines no service {name!r} (it has {known})")
    return ServiceBinding(servicer, descriptor.full_name, getattr(subnet_pb2_grpc, f"add_{name}Servicer_to_server"))


def tls_server_credentials(cert_path: Path, key_path: Path) -> grpc.ServerCredentials:
    """TLS credentials from a PEM certificate chain and its private key. Raises ``OSError`` naming the file that
    cannot be read, or when either file is not PEM (gRPC would only fail later, at bind time, without saying why)."""
    pems = []
    for what, path in (("certificate", cert_path), ("private key", key_path)):
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise OSError(f"cannot read the TLS {what} {path}: {exc.strerror or exc}") from None
        if b"-----BEGIN " not in data:
            raise OSError(f"the TLS {what} {path} is not a PEM file (it has no -----BEGIN line)")
        pems.append(data)
    cert, key = pems
    return grpc.ssl_server_credentials([(key, cert)])


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


async def create_server(
    *services: ServiceBinding,
    identity: Keypair,
    policy: AccessPolicy,
    port: int = 0,
    host: str = "127.0.0.1",
    auth: AuthSettings = DEFAULT_AUTH_SETTINGS,
    methods: Mapping[str, MethodAuth] | None = None,
    max_receive_message_bytes: int = DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
    max_send_message_bytes: int = DEFAULT_MAX_SEND_MESSAGE_BYTES,
    maximum_concurrent_rpcs: int | None = None,
    server_credentials: grpc.ServerCredentials | None = None,
    health_servicer: health.aio.HealthServicer | None = None,
    extra_interceptors: Iterable[grpc.aio.ServerInterceptor] = (),
    auth_interceptor: AuthInterceptor | None = None,
) -> tuple[grpc.aio.Server, int]:
    """Build a server for ``services`` that speaks as ``identity``, bound to ``host:port``; return it and its port.

    Every server gets: the ``AuthInterceptor`` (first, so nothing runs before a call is verified; ``methods``
    sets per-method rules, see ``subnet.auth.settings``), the standard health service with every service
    marked SERVING, reflection, and message size caps. Pass ``server_credentials`` for TLS. Raises ``OSError``
    if the address cannot be bound. Must be called inside the event loop that will run the server.
    To keep a handle on the nonce cache and rate limiter, build the ``AuthInterceptor`` yourself and pass it as
    ``auth_interceptor`` (its identity and policy must be the ones given here; ``auth``/``methods`` are unused).
    """
    interceptor = auth_interceptor or AuthInterceptor(identity, policy, auth, methods=methods)
    if interceptor.identity != identity or interceptor.policy is not policy:
        raise ValueError("auth_interceptor must be built with the same identity and policy as the server")
    server = grpc.aio.server(
        interceptors=(interceptor, *extra_interceptors),
        options=(
            ("grpc.max_receive_message_length", max_receive_message_bytes),
            ("grpc.max_send_message_length", max_send_message_bytes),
            # Two servers must never silently share a port.
            ("grpc.so_reuseport", 0),
        ),
        maximum_concurrent_rpcs=maximum_concurrent_rpcs,
    )
    for binding in services:
        binding.add_to_server(binding.servicer, server)
    health_servicer = health_servicer or health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [b.full_name for b in services]
    for name in ("", *names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        (*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server
    )
    address = _address(host, port)
    try:
        bound = (
            server.add_secure_port(address, server_credentials)
            if server_credentials
            else server.add_insecure_port(address)
        )
    except RuntimeError as e:
        raise OSError(f"cannot bind gRPC server to {address}: {e}") from None
    if bound == 0:
        raise OSError(f"cannot bind gRPC server to {address}; is the port in use?")
    return server, bound
