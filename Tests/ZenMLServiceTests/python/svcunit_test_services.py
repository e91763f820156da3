"""svcunit's own small ZenML services for the live tests (zenml 0.98).

Each is a zenml.services.LocalDaemonService subclass with its own config class, so the document ZenML writes
names test classes at every level it would for a real integration service. Run from this directory (or
with it on PYTHONPATH) so that `svcunit_test_services` imports.
"""

import os
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Tuple

from zenml.services import (
    LocalDaemonService,
    LocalDaemonServiceConfig,
    ServiceType,
)


def say(text: str) -> None:
    # flush: under ZenML's own daemon stdout is a log file, not the unbuffered journal stream.
    print(text, flush=True)


def _port(service: LocalDaemonService) -> int:
    if not service.endpoint or not service.endpoint.status.port:
        raise RuntimeError(f"{type(service).__name__} needs an endpoint with an allocated port")
    return service.endpoint.status.port


def serve_http(name: str, port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = 200 if self.path in ("/", "/health") else 404
            body = b"ok\n" if code == 200 else b"not found\n"
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_HEAD(self) -> None:  # ZenML's monitor can be configured to use HEAD
            self.send_response(200 if self.path in ("/", "/health") else 404)
            self.end_headers()

        def log_request(self, code="-", size="-") -> None:
            say(f"{name} {self.command} {self.path} {int(code) if isinstance(code, int) else code}")

        def log_message(self, format: str, *args) -> None:  # errors only; requests go through log_request
            say(f"{name} " + format % args)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    say(f"{name} serving on port {port}")
    server.serve_forever()


class HttpDaemonConfig(LocalDaemonServiceConfig):
    """Config of HttpDaemon."""


class HttpDaemon(LocalDaemonService):
    """Serves HTTP on endpoint.status.port: 200 on / and /health."""

    SERVICE_TYPE = ServiceType(name="svcunit-http", type="svcunit-test", flavor="http",
                               description="svcunit test HTTP daemon")
    config: HttpDaemonConfig

    def run(self) -> None:
        serve_http("HttpDaemon", _port(self))


class TcpDaemonConfig(LocalDaemonServiceConfig):
    """Config of TcpDaemon."""


class TcpDaemon(LocalDaemonService):
    """A plain TCP listener on endpoint.status.port: accepts and closes."""

    SERVICE_TYPE = ServiceType(name="svcunit-tcp", type="svcunit-test", flavor="tcp",
                               description="svcunit test TCP daemon")
    config: TcpDaemonConfig

    def run(self) -> None:
        port = _port(self)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen(16)
            say(f"TcpDaemon listening on port {port}")
            while True:
                conn, peer = s.accept()
                say(f"TcpDaemon connection from {peer[0]}:{peer[1]}")
                conn.close()


class SleepingDaemonConfig(LocalDaemonServiceConfig):
    """Config of SleepingDaemon."""


class SleepingDaemon(LocalDaemonService):
    """Sleeps forever, one line a second. Its name collides with svcunit's built-in Swift sleeper on purpose."""

    SERVICE_TYPE = ServiceType(name="svcunit-sleeping", type="svcunit-test", flavor="sleeping",
                               description="svcunit test sleeping daemon")
    config: SleepingDaemonConfig

    def run(self) -> None:
        say("test SleepingDaemon run() started")
        n = 0
        while True:
            time.sleep(1)
            n += 1
            say(f"test SleepingDaemon tick {n}")


class FailingDaemonConfig(LocalDaemonServiceConfig):
    """Config of FailingDaemon."""


class FailingDaemon(LocalDaemonService):
    """run() raises at once."""

    SERVICE_TYPE = ServiceType(name="svcunit-failing", type="svcunit-test", flavor="failing",
                               description="svcunit test failing daemon")
    config: FailingDaemonConfig

    def run(self) -> None:
        say("about to fail")
        raise RuntimeError("boom from FailingDaemon.run")


class EnvDaemonConfig(LocalDaemonServiceConfig):
    """Config of EnvDaemon."""


class EnvDaemon(LocalDaemonService):
    """Adds an environment variable in _get_daemon_cmd(), as ZenML's own local server does; serves HTTP."""

    SERVICE_TYPE = ServiceType(name="svcunit-env", type="svcunit-test", flavor="env",
                               description="svcunit test daemon with its own daemon environment")
    config: EnvDaemonConfig

    def _get_daemon_cmd(self) -> Tuple[List[str], Dict[str, str]]:
        command, env = super()._get_daemon_cmd()
        env["SVCUNIT_TEST_DAEMON_ENV"] = "from-get-daemon-cmd"
        return command, env

    def run(self) -> None:
        say(f"EnvDaemon SVCUNIT_TEST_DAEMON_ENV={os.environ.get('SVCUNIT_TEST_DAEMON_ENV', '<unset>')}")
        say(f"EnvDaemon PATH starts with {os.environ.get('PATH', '').split(os.pathsep)[0]}")
        serve_http("EnvDaemon", _port(self))
