"""Write a service document exactly as ZenML 0.98 does right before it spawns a daemon.

    python write_zenml_document.py --root ROOT --class svcunit_test_services.HttpDaemon --name NAME
                                   [--http PATH | --tcp | --no-endpoint] [--port P] [--main-module]

Run with cwd = this directory. Prints one JSON line: {"uuid": ..., "config_file": ..., "port": int|null}.
The document is ROOT/<uuid>/service.json. --port asks for that port exactly (allocate_port=False: ZenML
raises if it is busy); without it ZenML scans for a free port. --http is the default, with /health.
--main-module defines HttpDaemon in this script, so the document's type is `__main__.HttpDaemon`.
"""

import argparse
import importlib
import json
import os
import sys
import uuid

from answer import answer_stream
from svcunit_test_services import HttpDaemon as _TestHttpDaemon, HttpDaemonConfig


class HttpDaemon(_TestHttpDaemon):
    """For --main-module: what a user doing it wrong writes, the service class in the script they run.
    ZenML records its type as `__main__.HttpDaemon`, which no other process can import."""

    config: HttpDaemonConfig


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--class", dest="class_path", default="svcunit_test_services.HttpDaemon")
    parser.add_argument("--name", required=True)
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--http", metavar="PATH", help="HTTP endpoint with this health-check path")
    kind.add_argument("--tcp", action="store_true", help="TCP endpoint")
    kind.add_argument("--no-endpoint", action="store_true")
    parser.add_argument("--port", type=int)
    parser.add_argument("--main-module", action="store_true",
                        help="type __main__.HttpDaemon (a class defined in the script that creates it)")
    args = parser.parse_args()
    out = answer_stream()

    from zenml.enums import ServiceState
    from zenml.services import (
        HTTPEndpointHealthMonitor,
        HTTPEndpointHealthMonitorConfig,
        LocalDaemonServiceEndpoint,
        LocalDaemonServiceEndpointConfig,
        ServiceEndpointProtocol,
        TCPEndpointHealthMonitor,
        TCPEndpointHealthMonitorConfig,
    )

    if args.main_module:
        cls = HttpDaemon
    else:
        module_name, _, class_name = args.class_path.rpartition(".")
        cls = getattr(importlib.import_module(module_name), class_name)
    config_cls = cls.model_fields["config"].annotation

    endpoint = None
    if not args.no_endpoint:
        protocol = ServiceEndpointProtocol.TCP if args.tcp else ServiceEndpointProtocol.HTTP
        if args.tcp:
            monitor = TCPEndpointHealthMonitor(config=TCPEndpointHealthMonitorConfig())
        else:
            monitor = HTTPEndpointHealthMonitor(
                config=HTTPEndpointHealthMonitorConfig(healthcheck_uri_path=args.http or "/health"))
        endpoint = LocalDaemonServiceEndpoint(
            config=LocalDaemonServiceEndpointConfig(
                protocol=protocol, port=args.port, allocate_port=args.port is None),
            monitor=monitor)

    service = cls(uuid=uuid.uuid4(),
                  config=config_cls(name=args.name, root_runtime_path=os.path.abspath(args.root)),
                  endpoint=endpoint)

    # The steps of LocalDaemonService.start() up to the Popen, in ZenML's order: the start decorator sets
    # the state, start() sets admin_state, _start_daemon() allocates the port, _get_daemon_cmd() creates
    # ROOT/<uuid>/ and writes service.json.
    service.status.update_state(ServiceState.PENDING_STARTUP, "")
    service.admin_state = ServiceState.ACTIVE
    if service.endpoint:
        service.endpoint.prepare_for_start()
    service._get_daemon_cmd()

    out.write(json.dumps({"uuid": str(service.uuid), "config_file": service.status.config_file,
                          "port": service.endpoint.status.port if service.endpoint else None}) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
