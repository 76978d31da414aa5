"""The wrapper that runs first in a sandbox's interpreter (``python -I -S -c <this source>``).

Not imported by Vigil: ``evaluators.sandbox`` reads this file's text and hands it to the
child with ``-c``, so it may use the standard library only. It reads its configuration from
stdin, hides directories (namespaces mode), sets the limits, gives up every privilege for good
(namespaces mode: no capability left in any set, none regainable, ``nobody`` when started by
root), puts the guard in place (guarded mode), runs the program, then writes the token on a
pipe of its own. If a privilege cannot be dropped, the program is not run: the wrapper exits
before reporting that it started, so the outcome is an ``error``.
"""

import marshal
import os
import resource
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 8, 32, 4096, 16384
PR_CAPBSET_DROP, PR_GET_SECUREBITS, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS = 24, 27, 28, 38
# SECBIT_NOROOT, SECBIT_NO_SETUID_FIXUP, SECBIT_NO_CAP_AMBIENT_RAISE and the locks of those
# three and of SECBIT_KEEP_CAPS (left off): uid 0 gains nothing by execve, for good.
SECUREBITS = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80
CAPABILITY_VERSION_3 = 0x20080522
NO_CAPABILITIES = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}


class Refused(Exception):
    """The sandbox could not be set up as configured: the program must not run."""


def hide(paths: list[str], keep: list[tuple[str, bool]], size: int) -> None:
    """Cover ``paths`` with empty private tmpfs mounts, then bind ``keep`` back into them."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def mount(
        source: str | None, target: str, fstype: str | None, flags: int, data: str | None
    ) -> None:
        args = [s.encode() if s else None for s in (source, target, fstype)]
        if libc.mount(*args, flags, data.encode() if data else None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), target)

    held = [(path, read_only, os.open(path, os.O_PATH)) for path, read_only in keep]
    for path in paths:
        mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={size}")
    for path, read_only, fd in held:
        os.makedirs(path, mode=0o755, exist_ok=True)
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC, None)
        os.close(fd)
        if read_only:  # keeping the flags that a user namespace may not clear
            kept_flags = os.statvfs(path).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
            mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags, None)


def drop_privileges(uid: int | None) -> None:
    """Give up every capability for good: lock the securebits (uid 0 regains nothing on
    execve), empty the bounding set, switch to ``uid`` if given, empty the effective,
    permitted, inheritable (and so ambient) sets, set no_new_privs; then check it all in
    /proc/self/status. Under ``--map-root-user`` the program is root of its user namespace,
    and with CAP_SYS_ADMIN left it could unmount the tmpfs that hide the host's folders."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def prctl(what: str, option: int, arg: int) -> int:
        zero = ctypes.c_ulong(0)
        result: int = libc.prctl(option, ctypes.c_ulong(arg), zero, zero, zero)
        if result < 0:
            raise Refused(f"{what}: {os.strerror(ctypes.get_errno())}")
        return result

    prctl("PR_SET_SECUREBITS", PR_SET_SECUREBITS, SECUREBITS)
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as file:
        last_cap = int(file.read())
    for cap in range(last_cap + 1):
        prctl(f"PR_CAPBSET_DROP {cap}", PR_CAPBSET_DROP, cap)
    if uid is not None:  # still allowed: SECBIT_NO_SETUID_FIXUP kept the capabilities
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    header = (ctypes.c_uint32 * 2)(CAPABILITY_VERSION_3, 0)  # version, pid (0: this one)
    data = (ctypes.c_uint32 * 6)()  # two of (effective, permitted, inheritable), all empty
    if libc.capset(header, data) != 0:
        raise Refused(f"capset: {os.strerror(ctypes.get_errno())}")
    prctl("PR_SET_NO_NEW_PRIVS", PR_SET_NO_NEW_PRIVS, 1)
    if prctl("PR_GET_SECUREBITS", PR_GET_SECUREBITS, 0) & SECUREBITS != SECUREBITS:
        raise Refused("the securebits did not hold")
    with open("/proc/self/status", encoding="ascii") as file:
        status = dict(line.split(":\t", 1) for line in file.read().splitlines() if ":\t" in line)
    left = sorted(name for name in NO_CAPABILITIES if int(status.get(name, "1"), 16))
    if left or status.get("NoNewPrivs", "").strip() != "1":
        raise Refused(f"still held after dropping: {left or 'no NoNewPrivs'}")
    if uid is not None and ({*os.getresuid(), *os.getresgid()} != {uid} or os.getgroups()):
        raise Refused(f"still not uid/gid {uid}")


def guard() -> None:
    """Patch the C modules, before the Python ones that wrap them are imported."""
    import _posixsubprocess
    import _signal
    import _socket
    import posix

    def blocked(*args: object, **kwargs: object) -> None:
        raise PermissionError(
            "blocked by the Vigil sandbox guard: no network, no new processes, no file removal"
        )

    class NoSocket(_socket.socket):
        __slots__ = ()  # socket.socket, which subclasses it, adds __weakref__

        def __init__(self, *args: object, **kwargs: object) -> None:
            blocked()

    names = [
        *("fork", "forkpty", "system", "popen", "kill", "killpg", "pidfd_open", "posix_spawn"),
        *("posix_spawnp", "execv", "execve", "spawnv", "spawnve", "spawnvp", "spawnvpe"),
        *("remove", "unlink", "rmdir", "removedirs", "rename", "renames", "replace"),
        *("truncate", "chmod", "chown", "lchown", "fchmod", "fchown"),
    ]
    for module in (os, posix):
        for name in names:
            if hasattr(module, name):
                setattr(module, name, blocked)
    _posixsubprocess.fork_exec = blocked  # type: ignore[assignment]
    _signal.pidfd_send_signal = _signal.pthread_kill = blocked
    _socket.socket = _socket.SocketType = NoSocket  # type: ignore[misc]
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr",
                 "socketpair"):  # fmt: skip
        setattr(_socket, name, blocked)
    for name in ("ctypes", "_ctypes", "resource", "multiprocessing"):
        sys.modules[name] = None  # type: ignore[assignment]


def main() -> None:
    config = marshal.loads(sys.stdin.buffer.read())
    os.umask(0o022)
    if config["hide"]:
        hide(config["hide"], config["keep"], config["tmpfs_bytes"])
    with open(config["path"], encoding="utf-8") as file:
        source = file.read()
    for name, (soft, hard) in config["limits"].items():
        resource.setrlimit(getattr(resource, name), (soft, hard))
    if config["drop"]:
        try:
            drop_privileges(config["uid"])
        except (Refused, OSError) as err:
            print(f"could not drop privileges, the program was not run: {err}", file=sys.stderr)
            os._exit(2)
    if config["guard"]:
        guard()
    write, exit_, fd, token = os.write, os._exit, config["fd"], config.pop("token").encode()
    write(fd, b"R")
    try:  # then exit at once, not waiting for threads the program left running
        exec(compile(source, config["path"], "exec"), {"__name__": "__main__"})
    except SystemExit as stop:
        if stop.code is not None and not isinstance(stop.code, int):
            print(stop.code, file=sys.stderr)
        flush()
        exit_(stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 1)
    except BaseException:
        sys.excepthook(*sys.exc_info())  # the C one: importing traceback takes 10 ms
        flush()
        exit_(1)
    flush()
    write(fd, token)
    exit_(0)


def flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 (importing contextlib would slow every run down)
            stream.flush()
        except Exception:
            pass


if __name__ == "__main__":
    main()
