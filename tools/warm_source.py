"""A warm start for the tests of the connector's behaviour: `source-sentry` forked, not started.

Started, `source-sentry check|discover|read` spends about 1.6 s of one core importing the CDK before
it does anything; the end-to-end tests about what the connector does (not about the installed
command) start it about a hundred times. This process imports what the command imports for those
verbs, in the same order and with the same garbage-collector state, and then runs nothing: it waits
on a Unix socket. For each launch `tools/warm_launch.py` sends it the command's arguments, its
environment and working directory, and its own standard input, output and error (file descriptors
passed over the socket); this process forks, and the child takes those descriptors, directory and
arguments and runs the command's own entry point (`source_sentry.run:run`) as the installed script
does, exiting through the interpreter's own exit path. The launcher forwards signals (the resume
tests' SIGTERM) to the child and ends as the child ended (exit code, or death by the same signal),
so to its caller it is the command. `integration_tests/test_warm_source.py` holds the two equal.

What it saves, measured with `make test` run twice back to back on one quiet machine (2026-12-07),
with every launch cold and then as committed: pytest 790 s and 703 s; the two cores busy for 1,380
and 1,214 CPU-seconds (from /proc/stat). Between CI runs on different days the machine's own speed
varies more than that (30 to 60% more CPU for the same work), so compare such figures back to back.

Only the tests' harness uses it (`tools.airbyte_run`, `warm=True`); the shipped command never does.
A launch whose environment differs from this process's (the imports may have read it) is not
forked: the launcher runs the installed command itself. So do the tests about the installed
command (packaging, the image, PyAirbyte, the Cloud runner): they never ask for a warm launch.

Run as a script by the harness: `python tools/warm_source.py SOCKET_PATH COMMAND_PATH`.
"""

from __future__ import annotations

import gc
import os
import sys

# The installed script's own import path: its directory first, not this file's.
sys.path[0] = os.path.dirname(os.path.realpath(sys.argv[2]))

import json  # noqa: E402 - after the path is the script's
import selectors  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import threading  # noqa: E402

# Set per test by pytest in the environment the launcher inherits; nothing of the command reads it.
PER_LAUNCH = ("PYTEST_CURRENT_TEST",)
HEADER = struct.Struct("!I")


def warm_imports() -> None:
    """What `source_sentry.run._run_protocol` imports before it reads its arguments, the same way:
    the collector off, the connector the door chooses, the CDK imported inside its `cdk_import`."""
    gc.disable()
    import source_sentry.run  # noqa: F401 - the entry point the child calls
    from source_sentry.packaged.door import PackagedConnector, connector

    chosen = connector()
    with chosen.cdk_import():
        import airbyte_cdk.entrypoint  # noqa: F401
        import airbyte_cdk.models  # noqa: F401
        import airbyte_cdk.utils.traced_exception  # noqa: F401

        import source_sentry.cdk_logs  # noqa: F401
        import source_sentry.config  # noqa: F401

        # The plain connector's source_class() logs a warning, which the child must write itself.
        if isinstance(chosen, PackagedConnector):
            chosen.source_class()


def receive(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def send(connection: socket.socket, message: dict) -> None:
    body = json.dumps(message).encode()
    connection.sendall(HEADER.pack(len(body)) + body)


def without_per_launch(environment: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in environment.items() if k not in PER_LAUNCH}


def serve(path: str, before_imports: dict[str, str]) -> dict | None:
    """Answer launches until the harness goes away; in a forked child, return its request."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".binding")
    listener.listen(64)
    os.rename(path + ".binding", path)  # the harness waits for this name: ready
    parent = os.getppid()
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}
    while os.getppid() == parent:
        for key, _ in selector.select(timeout=0.02):
            if key.fileobj is listener:
                connection, _ = listener.accept()
                try:
                    message, fds, _flags, _address = socket.recv_fds(connection, HEADER.size, 3)
                    (size,) = HEADER.unpack(message + receive(connection, HEADER.size - len(message)))
                    request = json.loads(receive(connection, size))
                except (EOFError, OSError, struct.error, ValueError):
                    connection.close()
                    continue
                wanted, imported_in = without_per_launch(request["env"]), without_per_launch(before_imports)
                if wanted != imported_in:
                    differing = sorted(
                        k for k in wanted.keys() | imported_in.keys() if wanted.get(k) != imported_in.get(k)
                    )
                    print(f"not forked, the environment differs in {differing}", file=sys.stderr, flush=True)
                    send(connection, {"cold": True})
                    connection.close()
                    for fd in fds:
                        os.close(fd)
                    continue
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    listener.close()
                    for other in [connection, *children.values()]:
                        other.close()
                    for target, fd in enumerate(fds):
                        os.dup2(fd, target)
                        os.close(fd)
                    return request
                for fd in fds:
                    os.close(fd)
                send(connection, {"pid": pid})
                children[pid] = connection
                selector.register(connection, selectors.EVENT_READ, pid)
            else:
                # The launcher went away before its child ended (its caller killed it on a timeout).
                try:
                    os.kill(key.data, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                selector.unregister(key.fileobj)
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            connection = children.pop(pid)
            try:
                send(connection, {"status": status})
            except OSError:
                pass
            if connection in [key.fileobj for key in selector.get_map().values()]:
                selector.unregister(connection)
            connection.close()
    return None


def main() -> None:
    path, command = sys.argv[1:3]
    before_imports = dict(os.environ)
    warm_imports()
    if threading.active_count() != 1:
        sys.exit("the imports started a thread: forking this process would not be safe")
    request = serve(path, before_imports)
    if request is None:
        return
    # The child: from here on, the command.
    os.chdir(request["cwd"])
    for name in PER_LAUNCH:
        os.environ.pop(name, None)
        if name in request["env"]:
            os.environ[name] = request["env"][name]
    sys.argv = [command, *request["argv"]]
    run_script(command)


def run_script(command: str) -> None:
    """The installed script's own code (`sys.exit(run())`), as `__main__` and under its own file
    name, so that its frame is the outermost an exception passes through. An exception it does not
    catch goes to `sys.excepthook` (the CDK's, which writes it as a trace message) from that frame
    on, as when the interpreter runs the script, and the process then exits with 1; SystemExit
    leaves through the interpreter, as from the script."""
    import types

    with open(command, encoding="utf-8") as script:
        code = compile(script.read(), command, "exec")
    module = types.ModuleType("__main__")
    module.__file__ = command
    sys.modules["__main__"] = module
    try:
        exec(code, module.__dict__)
    except SystemExit:
        raise
    except BaseException as error:  # noqa: BLE001 - what the interpreter does with it, below
        below_this_frame = error.__traceback__.tb_next if error.__traceback__ else None
        error.__traceback__ = below_this_frame
        sys.excepthook(type(error), error, below_this_frame)
        sys.exit(1)


if __name__ == "__main__":
    main()
