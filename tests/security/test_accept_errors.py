"""Issue 15, item 9: ``tryggbo serve`` out of file descriptors under a flood of idle
sockets. Before, asyncio logged a traceback for every failed ``accept()`` (21,870 in
23 s, 323 MB of log) and new connections timed out; now the failure is logged once,
counted, and the header timeout frees the descriptors, so the server recovers."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from config.site import Site
from tests.faults.served import served_controller
from tests.reliability_fixtures import private_broker

#: the child's limit of open files (soft and hard)
NOFILE = 128
#: sockets opened beyond what the child has left
BEYOND = 40
HEADER_TIMEOUT_S = 2.0


async def test_accept_errors_at_the_open_files_limit_are_logged_once_with_a_count(
    tmp_path: Path, example_site: Site
) -> None:
    async with (
        private_broker(example_site, tmp_path / "broker") as broker,
        served_controller(broker, tmp_path / "daemon") as served,
    ):
        served.nofile = NOFILE
        served.env = {"TRYGGBO_HTTP_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S)}
        await served.start()
        assert served.proc is not None
        free = NOFILE - len(os.listdir(f"/proc/{served.proc.pid}/fd"))
        host, port = "127.0.0.1", served.port
        writers = []
        try:
            for n in range(free + BEYOND):  # each from its own address: no cap applies
                local = f"127.0.{2 + n // 250}.{1 + n % 250}"
                _reader, writer = await asyncio.open_connection(host, port, local_addr=(local, 0))
                writers.append(writer)
            # out of descriptors, then the idle sockets are closed and it accepts again
            await _logged(served.log_path, "accepts connections again", HEADER_TIMEOUT_S * 4 + 10)
            health = await served.wait_health(lambda h: h["status"] == "ok", timeout=10)
            assert health["status"] == "ok"
        finally:
            for writer in writers:
                writer.close()
    log = served.log_text()
    assert log.count("cannot accept connections") == 1, log[-3000:]
    again = re.search(r"accepts connections again, after (\d+) accept errors", log)
    assert again, log[-3000:]
    assert int(again.group(1)) >= 1
    assert "socket.accept() out of system resource" not in log
    assert "Traceback" not in log, log[-3000:]
    assert len(log) < 100_000, len(log)


async def _logged(path: Path, text: str, timeout: float) -> None:
    """Wait until the child's log holds ``text`` (a file another process writes:
    polled, bounded)."""
    async with asyncio.timeout(timeout):
        while True:
            if text in path.read_text(errors="replace"):  # noqa: ASYNC240
                return
            await asyncio.sleep(0.1)
