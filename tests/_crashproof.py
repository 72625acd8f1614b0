"""Run code snippets in a long-lived worker process, so a crash fails one case instead of the run.

    with Worker(prelude="import minigrad as mg") as w:
        out = w.run("mg.tensor([1.0]) @ mg.tensor([1.0, 2.0])")
        out.status      # 'raised' | 'returned' | 'crash' | 'hang'
        out.types       # names of the exception's classes (its MRO) when 'raised'
        out.message     # str(exception), or repr of the result when 'returned'
        out.ok          # 'returned' and the snippet set ``OK = True`` (it checked its own result)

The worker executes one snippet at a time in a fresh namespace holding the prelude's globals, and
answers over a private pipe (fd 1 is redirected to stderr first, so C code printing to stdout
cannot garble the protocol). A snippet that segfaults, aborts or calls ``os._exit`` ends the
worker: the case reports ``crash`` with the exit status and the next case starts a new worker.
A snippet that runs longer than ``timeout`` seconds is killed and reports ``hang``. After every
case the worker runs ``reset`` (for example restoring the thread count) so one case's global
settings cannot leak into the next; if that fails, the worker is replaced.

The worker's address space is capped (``RLIMIT_AS``: ``memory_limit`` bytes more than it had at
start, so the cap also works under AddressSanitizer's reserved shadow) so an input that
makes the library allocate far too much raises ``MemoryError`` in the case instead of taking
the machine's memory.
"""
import json
import os
import select
import subprocess
import tempfile
import sys
from dataclasses import dataclass

_LOOP = r"""
import json, os, resource, sys, traceback
limit = int(sys.argv[1])
if limit:   # on top of the address space at start (under ASan that already holds its huge shadow)
    with open("/proc/self/statm") as f:
        start = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (start + limit, hard))
reply = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)                                   # stray prints go to stderr, not the protocol
sys.stdout = sys.stderr
base = {"__name__": "__case__"}
exec(sys.argv[2], base)
reset = compile(sys.argv[3], "<reset>", "exec")
reply.write("ready\n"); reply.flush()
for line in sys.stdin:
    code = json.loads(line)
    ns = dict(base)
    try:
        value = eval(compile(code, "<case>", "eval"), ns) if _is_expr(code) else exec(code, ns)
        out = {"status": "returned", "message": repr(value)[:400], "ok": bool(ns.get("OK", False))}
    except BaseException as e:                  # noqa: BLE001 - reporting is the point
        out = {"status": "raised", "types": [c.__name__ for c in type(e).__mro__],
               "message": str(e)[:2000]}
    try:
        exec(reset, dict(base))
    except BaseException as e:                  # noqa: BLE001
        out["reset_failed"] = f"{type(e).__name__}: {e}"
    reply.write(json.dumps(out) + "\n"); reply.flush()
    if "reset_failed" in out:
        break
"""
_IS_EXPR = r"""
def _is_expr(code):
    try:
        compile(code, "<case>", "eval")
        return True
    except SyntaxError:
        return False
"""


@dataclass
class Outcome:
    status: str              # 'raised', 'returned', 'crash' or 'hang'
    message: str = ""
    types: tuple = ()
    ok: bool = False         # 'returned' and the snippet set OK = True (an acceptable result)

    def raised(self, *names):
        """True when the snippet raised an exception that is an instance of any named class."""
        return self.status == "raised" and any(n in self.types for n in names)


class Worker:
    """A restartable worker process; see the module docstring."""

    def __init__(self, prelude="", reset="", timeout=20.0, memory_limit=8 << 30):
        self.prelude, self.reset, self.timeout = prelude, reset, timeout
        self.memory_limit = memory_limit
        self.proc = None
        self.restarts = 0

    def _start(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _IS_EXPR + _LOOP, str(self.memory_limit), self.prelude, self.reset],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            # `python -c` puts the working directory first on sys.path: run outside the source tree
            # (pytest's cwd in CI), whose minigrad/ has no compiled _C, so the installed one is used
            cwd=tempfile.gettempdir(),
            # few threads and malloc arenas: each arena reserves 64 MiB of the capped address space
            env=dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"), MALLOC_ARENA_MAX="2"))
        line = self._readline(max(self.timeout, 60.0))
        if line != "ready":
            self.close()
            raise RuntimeError(f"the worker did not start (prelude failed?): {line!r}")
        self.restarts += 1

    def _readline(self, timeout):
        """One reply line, '' when the worker died, None on timeout."""
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        return self.proc.stdout.readline().strip()

    def run(self, code):
        """Run ``code`` (an expression or statements) and report what happened."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        try:
            self.proc.stdin.write(json.dumps(code) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass                                   # it died: the read below reports it
        line = self._readline(self.timeout)
        if line is None:
            self.close()
            return Outcome("hang", f"no answer within {self.timeout:g} s")
        if not line:
            rc = self.proc.wait()
            self.proc = None
            how = f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}"
            return Outcome("crash", f"the worker died ({how})")
        out = json.loads(line)
        if "reset_failed" in out:
            self.close()
        return Outcome(out["status"], out["message"], tuple(out.get("types", ())), out.get("ok", False))

    def close(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass
            self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
