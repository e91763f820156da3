"""svcunit's foreground runner for ZenML local daemon services (zenml 0.98).

    PYTHON -u svcunit_zenml_runner.py run   --config-file PATH
    PYTHON    svcunit_zenml_runner.py check --config-file PATH [--workdir DIR]

`run` is a systemd unit's ExecStart (Type=notify, NotifyAccess=main): it loads the service document ZenML
wrote (<runtime_path>/service.json) and calls the service's run() in this very process, instead of ZenML's
local_daemon_entrypoint, which always double-forks and ignores SIGTERM. `check` is run by `svcunit register`
and answers with one JSON line on stdout.

The document may carry an object ZenML ignores (unknown keys are dropped when ZenML loads it):
    "svcunit": {"python": "/abs/python", "workdir": "/abs/dir", "env": {"K": "V"}, "daemon_env": {"K": "V"}}
(all optional). `daemon_env` is what `check` reported that the class's _get_daemon_cmd() adds; `run`
applies it after `env`, as ZenML's start() would (its Popen env is os.environ plus those additions).

Exit statuses: 0 run() returned / check passed; 1 any other failure (check: every failure);
65 (EX_DATAERR) the document is one ZenML rejects; 69 (EX_UNAVAILABLE) zenml cannot be imported.

Standard library only at module level: `check` must be able to say "zenml is not installed" in JSON.
"""

import argparse
import atexit
import json
import os
import shutil
import socket
import sys
import tempfile
import traceback

PROG = "svcunit-zenml-runner"
EXIT_FAILURE, EXIT_DATAERR, EXIT_UNAVAILABLE = 1, 65, 69
PID_FILE_NAME = "service.pid"  # zenml.services.local.local_service.SERVICE_DAEMON_PID_FILE_NAME


class Problem(Exception):
    """A failure with its `check` problem name, the module concerned and the exit status for `run`."""

    def __init__(self, problem, cause, module=None, status=EXIT_FAILURE):
        super().__init__(one_line(cause))
        self.problem, self.cause, self.module, self.status = problem, cause, module, status


def one_line(exc):
    """`Type: message` on one line (pydantic's messages span several)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---------------------------------------------------------------------------------------------------------
# Steps shared by `run` and `check`


def read_document(path):
    """Step 1: the document's text, its dict and the svcunit object. Refuses a `__main__.` class early:
    ZenML would look it up in *this* script's __main__ and fail with a confusing AttributeError."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise Problem("other", e) from e
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise Problem("invalid-document", e, status=EXIT_DATAERR) from e
    type_path = doc.get("type") if isinstance(doc, dict) else None
    if not isinstance(type_path, str) or "." not in type_path:
        raise Problem("invalid-document", ValueError(f"{path}: no class path in the top-level 'type' key"),
                      status=EXIT_DATAERR)
    module = type_path.rpartition(".")[0]
    if module == "__main__" or module.startswith("__main__."):
        raise Problem("main-module", ValueError(
            f"the service class {type_path} was defined in a script run as __main__, so no other process can "
            f"import it; move the class into a module and create the service from there"),
            module="__main__", status=EXIT_DATAERR)
    own = doc.get("svcunit") or {}
    if not isinstance(own, dict) or not all(isinstance(own.get(k) or {}, dict) for k in ("env", "daemon_env")):
        raise Problem("invalid-document", ValueError("'svcunit' must be an object, 'env' and 'daemon_env' maps"),
                      module=module, status=EXIT_DATAERR)
    return text, type_path, module, own


def apply_environment(env, workdir, caller_wins=False):
    """Steps 2-3: what the service would have had as `cd WORKDIR && env ... python -m ...`.
    caller_wins (check): the caller already set the environment the service will get; the document's
    values only fill gaps (they may be a previous registration's)."""
    for key, value in env.items():
        if not (caller_wins and key in os.environ):
            os.environ[str(key)] = str(value)
    os.environ["PYTHONUNBUFFERED"] = "1"
    os.environ["ZENML_LOGGING_COLORS_DISABLED"] = "true"
    # A venv's interpreter, as if the venv were activated: services that run their tools as programs
    # (mlflow, bentoml, ...) find them on PATH, as they did from the user's shell.
    if sys.prefix != sys.base_prefix and not (caller_wins and "VIRTUAL_ENV" in os.environ):
        os.environ["VIRTUAL_ENV"] = sys.prefix
        bin_dir = os.path.join(sys.prefix, "bin")
        path = os.environ.get("PATH", os.defpath).split(os.pathsep)
        os.environ["PATH"] = os.pathsep.join([bin_dir] + [p for p in path if p != bin_dir])
    # zenml installs rich's traceback hook by default; keep any traceback we do not print ourselves plain.
    os.environ.setdefault("ZENML_ENABLE_RICH_TRACEBACK", "false")
    # sys.path[0] is this script's directory; `python -m` would have the working directory there instead.
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    # A PYTHONPATH set above was not in this interpreter's start-up environment, so Python did not read it.
    sys.path[0:0] = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p not in sys.path]
    if workdir:
        try:
            os.chdir(workdir)
        except OSError as e:
            raise Problem("other", e) from e
    sys.path.insert(0, os.getcwd())


def load_service(text, module):
    """Steps 4-5: import zenml as its entrypoint would, then BaseService.from_json. Returns (service, zenml)."""
    try:
        import zenml
    except ImportError as e:  # zenml itself, or one of its dependencies
        raise Problem("no-zenml", e, module=e.name or "zenml", status=EXIT_UNAVAILABLE) from e
    from zenml.client import Client
    from zenml.integrations.registry import integration_registry
    from zenml.services import BaseService, LocalDaemonService
    from zenml.utils import source_utils

    # ZenML resolves the class against a "source root": the ZenML repository (`zenml init`), else
    # ZENML_CUSTOM_SOURCE_ROOT, else the main module's directory, which here would be svcunit's own
    # directory. The working directory is the right root for a service that ran as `python -m`.
    if not os.environ.get("ZENML_CUSTOM_SOURCE_ROOT") and Client.find_repository() is None:
        source_utils.set_custom_source_root(os.getcwd())
    integration_registry.activate_integrations()  # the entrypoint does this before loading

    try:
        service = BaseService.from_json(text)
    except ImportError as e:
        raise Problem("module-not-importable", e, module=e.name or module) from e
    except SyntaxError as e:
        raise Problem("module-not-importable", e, module=module) from e
    except TypeError as e:  # load_and_validate_class: `type` is not a BaseService subclass
        raise Problem("not-local-daemon-service", e, module=module, status=EXIT_DATAERR) from e
    except (ValueError, KeyError, RuntimeError) as e:  # pydantic ValidationError is a ValueError
        raise Problem("invalid-document", e, module=module, status=EXIT_DATAERR) from e
    except Exception as e:
        raise Problem("other", e, module=module) from e
    if not isinstance(service, LocalDaemonService):
        raise Problem("not-local-daemon-service", TypeError(
            f"{type(service).__module__}.{type(service).__qualname__} is not a "
            f"zenml.services.LocalDaemonService (svcunit runs only local daemon services)"),
            module=module, status=EXIT_DATAERR)
    return service, zenml


# ---------------------------------------------------------------------------------------------------------
# run


def sd_notify(message):
    """sd_notify(3) without libsystemd. No-op outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
        s.connect(address)
        s.sendall(message.encode())


def write_pid_file(runtime_path):
    """ZenML's client (is_running, stop()) reads <runtime_path>/service.pid and signals that PID."""
    os.makedirs(runtime_path, exist_ok=True)
    path = os.path.join(runtime_path, PID_FILE_NAME)
    pid = os.getpid()
    tmp = f"{path}.{pid}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{pid}\n")  # ZenML's daemon writes the same format
    os.replace(tmp, path)

    def remove():
        # Only at a normal exit: atexit does not run when SIGTERM kills us, so ExecStopPost removes it too.
        try:
            with open(path) as f:
                if f.read().strip() == str(pid):
                    os.remove(path)
        except OSError:
            pass

    atexit.register(remove)


def run(args):
    try:
        text, type_path, module, own = read_document(args.config_file)
        apply_environment({**(own.get("env") or {}), **(own.get("daemon_env") or {})}, own.get("workdir"))
        service, _ = load_service(text, module)
        if service.status.runtime_path:
            write_pid_file(service.status.runtime_path)
        # Ready means "the class loaded"; an endpoint, if any, is svcunit's health check to probe.
        # NOTIFY_SOCKET stays set: run() may send its own STATUS=; NotifyAccess=main ignores children.
        sd_notify(f"STATUS=running {type_path}\nMAINPID={os.getpid()}\nREADY=1\n")
        # No SIGTERM handler on purpose: Python's default action ends the process at once, so
        # `systemctl stop` (and ZenML's own stop(), which sends SIGTERM to service.pid) is fast and leaves
        # nothing behind. ZenML's daemon handler returns without exiting, which is what we replace.
        service.run()
    except Problem as p:
        return fail(p.cause, p.status, p.problem)
    except Exception as e:  # raised by run() itself
        return fail(e, EXIT_FAILURE)
    return 0


def fail(exc, status, problem=None):
    """Full traceback, then the one summary line svcunit shows (it must be the LAST stderr line)."""
    sys.stdout.flush()
    if exc.__traceback__ is not None:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    hint = ""
    if problem == "no-zenml":
        hint = f" (zenml is not importable by {sys.executable})"
    elif isinstance(exc, ModuleNotFoundError):
        hint = f" (check --workdir or PYTHONPATH; cwd {os.getcwd()}, python {sys.executable})"
    sys.stderr.write(f"{PROG}: error: {one_line(exc)}{hint}\n")
    sys.stderr.flush()
    return status


# ---------------------------------------------------------------------------------------------------------
# check


def daemon_env(service):
    """The environment a subclass's _get_daemon_cmd() adds (ZenML's own local server adds ZENML_* there).

    _get_daemon_cmd() rewrites <runtime_path>/service.json and deletes service.pid, so call it on a copy
    whose runtime_path is a fresh temporary directory: the real document and PID file are never touched.
    """
    probe = service.model_copy(deep=True)
    tmp = tempfile.mkdtemp(prefix="svcunit-check-")
    try:
        probe.status.runtime_path = tmp
        _, env = probe._get_daemon_cmd()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {k: v for k, v in (env or {}).items() if os.environ.get(k) != v}


def check(args):
    # fd 1 is kept for the answer; everything else written to stdout (zenml logs, print()s in user
    # modules, child processes) goes to stderr.
    sys.stdout.flush()
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        text, type_path, module, own = read_document(args.config_file)
        # Not the document's daemon_env: the answer is relative to the environment without it.
        apply_environment(own.get("env") or {}, args.workdir or own.get("workdir"), caller_wins=True)
        service, zenml = load_service(text, module)
        try:
            env = daemon_env(service)
        except Exception as e:
            raise Problem("other", e, module=module) from e
        result = {"ok": True, "class": type_path, "zenml_version": zenml.__version__,
                  "python": sys.executable, "daemon_env": env}
        status = 0
    except Problem as p:
        if p.cause.__traceback__ is not None:
            traceback.print_exception(type(p.cause), p.cause, p.cause.__traceback__, file=sys.stderr)
        result = {"ok": False, "problem": p.problem, "module": p.module, "message": str(p)}
        status = EXIT_FAILURE
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        result = {"ok": False, "problem": "other", "module": None, "message": one_line(e)}
        status = EXIT_FAILURE
    sys.stdout.flush()
    answer.write(json.dumps(result) + "\n")
    answer.flush()
    return status


def exit_now(status):
    """Exit without the interpreter's finalization: tearing down the thousands of modules zenml imports
    takes 0.5-0.8 s, which would only delay systemd seeing a failed start, or `check`'s caller."""
    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)  # CPython; the PID file's removal
    if run_exit_functions:
        run_exit_functions()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def main(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p_run = sub.add_parser("run", help="run the service in the foreground (a systemd unit's ExecStart)")
    p_run.add_argument("--config-file", required=True)
    p_check = sub.add_parser("check", help="load the service class and print one JSON line")
    p_check.add_argument("--config-file", required=True)
    p_check.add_argument("--workdir")
    args = parser.parse_args(argv)
    if args.mode == "check":
        exit_now(check(args))
    status = run(args)
    if status != 0:
        exit_now(status)
    return status  # run() returned: a normal exit, with the finalization user code may rely on


if __name__ == "__main__":
    sys.exit(main())
