"""ZenML 0.98's own client view of a service document.

    python zenml_client.py is-running --config-file F   -> {"is_running": bool}                       exit 0
    python zenml_client.py stop [--timeout S] --config-file F
                                                         -> {"stopped": bool, "state": str, "pid": int|null}
                                                            exit 0 if stopped, else 1

Run with cwd = this directory (the document's class must import). is_running is ZenML's property: it runs
check_status() (<runtime_path>/service.pid names a live PID) and, unless inactive, the endpoint's health
monitor. stop() sends SIGTERM to that PID and polls (once a second) until the PID is gone.
"""

import argparse
import json
import sys

from answer import answer_stream


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["is-running", "stop"])
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--timeout", type=int, default=10)
    args = parser.parse_args()
    out = answer_stream()

    from zenml.services import BaseService

    with open(args.config_file) as f:
        service = BaseService.from_json(f.read())
    if args.action == "is-running":
        result, status = {"is_running": service.is_running}, 0
    else:
        pid = service.status.pid
        service.stop(timeout=args.timeout)
        stopped = service.is_stopped
        result = {"stopped": stopped, "state": service.status.state.value, "pid": pid}
        status = 0 if stopped else 1
    out.write(json.dumps(result) + "\n")
    out.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
