#!/usr/bin/env python3
"""Runs a command under a pseudo-terminal so that it sees a real TTY (kubectl exec -it sends
resize messages only then). Usage: pty-run.py COLS ROWS -- ARGV...

Driven line by line on stdin:
  W <base64>        bytes typed on the terminal
  R <cols> <rows>   resize the terminal (TIOCSWINSZ on the pty: the kernel sends SIGWINCH)
Everything the program writes to its terminal comes out on stdout, unchanged. Exits with the
program's exit code (128 + signal when killed)."""
import base64, fcntl, os, pty, select, signal, struct, sys, termios


def set_size(fd, cols, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    cols, rows = int(sys.argv[1]), int(sys.argv[2])
    argv = sys.argv[sys.argv.index("--") + 1:]
    pid, master = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    set_size(master, cols, rows)
    # Killed by the test: take the program along.
    signal.signal(signal.SIGTERM, lambda *_: (os.kill(pid, signal.SIGKILL), os._exit(143)))
    # The child may have read the size before it was set: tell it again.
    os.kill(pid, signal.SIGWINCH)
    control = sys.stdin.fileno()
    pending = b""
    status = None
    while status is None:
        fds = [master] + ([control] if control is not None else [])
        ready, _, _ = select.select(fds, [], [], 0.2)
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if data:
                os.write(sys.stdout.fileno(), data)
        if control is not None and control in ready:
            chunk = os.read(control, 65536)
            if not chunk:
                control = None
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                parts = line.decode().split(" ")
                if parts[0] == "W":
                    os.write(master, base64.b64decode(parts[1]))
                elif parts[0] == "R":
                    set_size(master, int(parts[1]), int(parts[2]))
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
    # Drain what the program wrote before it exited.
    while True:
        try:
            ready, _, _ = select.select([master], [], [], 0.1)
            if not ready:
                break
            data = os.read(master, 65536)
            if not data:
                break
            os.write(sys.stdout.fileno(), data)
        except OSError:
            break
    sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


main()
