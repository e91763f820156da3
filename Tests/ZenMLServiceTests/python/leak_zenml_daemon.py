"""Start a service the way ZenML 0.98 itself does, leaving the kind of daemon svcunit exists to replace.

    python leak_zenml_daemon.py --config-file F [--timeout SECONDS]

Run with cwd = this directory. Loads F with BaseService.from_json and calls ZenML's real start(): the
double-forking local_daemon_entrypoint, setsid'd, output in <runtime_path>/service.log. Waits until ZenML
says it is running (PID file + endpoint health), then prints one JSON line {"pid": int, "pid_file": str}.
Exit 1 (with {"pid": null, ...}) if it did not come up. start() rewrites F (ZenML drops the "svcunit" key).
Its SIGTERM handler returns without exiting, so ZenML's stop() leaves it running: end it with SIGKILL.
"""

import argparse
import json
import sys

from answer import answer_stream


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--timeout", type=int, default=60)
    args = parser.parse_args()
    out = answer_stream()

    from zenml.services import BaseService

    with open(args.config_file) as f:
        service = BaseService.from_json(f.read())
    service.start(timeout=args.timeout)  # polls is_running once a second
    running = service.is_running
    out.write(json.dumps({"pid": service.status.pid if running else None,
                          "pid_file": service.status.pid_file}) + "\n")
    out.flush()
    return 0 if running else 1


if __name__ == "__main__":
    sys.exit(main())
