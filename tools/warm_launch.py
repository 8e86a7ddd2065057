"""The command, launched warm: `python -I -S tools/warm_launch.py SOCKET COMMAND ARGS...`.

Hands its arguments, environment, working directory and standard streams to `tools/warm_source.py`
listening on SOCKET, which forks the command's child (see there); passes on the signals a runner
sends (SIGTERM, SIGINT, SIGHUP) and ends as the child ended: its exit code, or killed by the same
signal. Where the warm process declines (another environment), it becomes COMMAND itself (exec).
Standard library only, and started without site-packages: it costs milliseconds."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
from typing import BinaryIO

HEADER = struct.Struct("!I")
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def receive(reader: BinaryIO) -> dict:
    header = reader.read(HEADER.size)
    if len(header) < HEADER.size:
        raise EOFError("the warm process went away")
    return json.loads(reader.read(HEADER.unpack(header)[0]))


def main() -> None:
    path, command, *argv = sys.argv[1:]
    pending: list[int] = []
    child: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if child:
            os.kill(child[0], signum)
        else:
            pending.append(signum)

    inherited = {forwarded: signal.signal(forwarded, forward) for forwarded in FORWARDED}
    body = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(path)
    message = HEADER.pack(len(body)) + body
    socket.send_fds(connection, [message[: HEADER.size]], [0, 1, 2])
    connection.sendall(message[HEADER.size :])
    reader = connection.makefile("rb")
    answer = receive(reader)
    if answer.get("cold"):
        for forwarded, handler in inherited.items():
            signal.signal(forwarded, handler)
        connection.close()
        os.execv(command, [command, *argv])
    child.append(answer["pid"])
    for early in pending:
        os.kill(child[0], early)
    status = receive(reader)["status"]
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        sys.exit(128 + signum)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
