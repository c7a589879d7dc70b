"""The fork server (`evidence.running.forkserver`): every request gets its own worker.

Under load the server's first answer can come late (it imports torch and Lightning first); an
answer must never be taken for another request's, or a topic would wait on another topic's
worker (seen as "the fork server did not answer", then workers exiting with code 1).
"""

from __future__ import annotations

import concurrent.futures
import os
import sys

import pytest

from evidence.running import forkserver

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server is Linux-only")

WORKER = """
import sys
from pathlib import Path
Path(sys.argv[1]).write_text(sys.argv[2])
raise SystemExit(int(sys.argv[2]) % 3)
"""


def test_concurrent_requests_each_get_their_own_worker_and_exit_code(tmp_path):
    (tmp_path / "tiny_worker.py").write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    server = forkserver.ForkServer()
    try:
        def one(n: int) -> tuple[int, int]:
            proc = server.start(["tiny_worker", str(tmp_path / f"out-{n}"), str(n)], cwd=str(tmp_path), env=env,
                                stderr_path=str(tmp_path / f"err-{n}"))
            return n, proc.wait()

        with concurrent.futures.ThreadPoolExecutor(4) as pool:  # four threads asking at once, as builds do
            codes = dict(pool.map(one, range(12)))
    finally:
        server.close()
    assert codes == {n: n % 3 for n in range(12)}
    assert {n: (tmp_path / f"out-{n}").read_text() for n in range(12)} == {n: str(n) for n in range(12)}


def test_a_server_that_dies_while_importing_is_a_clear_error(tmp_path, monkeypatch):
    server = forkserver.ForkServer()
    monkeypatch.setattr(forkserver.sys, "executable", "/bin/false")  # exits at once, says nothing
    with pytest.raises(RuntimeError, match="exited with code 1 while importing"):
        server.start(["tiny_worker"], cwd=str(tmp_path), env=dict(os.environ), stderr_path=str(tmp_path / "err"))
