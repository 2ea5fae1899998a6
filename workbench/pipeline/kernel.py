"""The stage kernel dies with the runner.

jupyter_client starts each kernel in a session of its own (so an interrupt reaches the
kernel's whole process group), which also takes it out of the runner's process group: a
`kill -9 -PGID` of the run left the kernel writing into the run folder for about a second,
until ipykernel's once-a-second parent poll noticed. On Linux the kernel now asks to be
killed the moment its parent process dies (PR_SET_PDEATHSIG); elsewhere the poll remains.

Used as papermill's `kernel_manager_class`.
"""

from __future__ import annotations

import ctypes
import signal
import sys

from jupyter_client import AsyncKernelManager

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the forked child, before the kernel starts
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class TiedKernelManager(AsyncKernelManager):
    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if sys.platform.startswith("linux"):
            kw["preexec_fn"] = _die_with_parent
        return await super()._async_launch_kernel(kernel_cmd, **kw)
