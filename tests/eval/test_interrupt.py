"""Ctrl-C mid-run stops cleanly and leaves a valid partial results file."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from eval_support import SCRIPT, providers_file, results, upstream_calls, validate_results, write_yaml

from llmswitch.testing import MockServer


def test_ctrl_c_writes_what_finished(workdir: Path, server: MockServer) -> None:
    if not SCRIPT.exists():
        pytest.skip("the llmswitch console script is not installed in this environment")
    server.mount("alpha").latency = 0.3  # 8 cells one at a time: about 2.4 s if left alone
    config = providers_file(workdir / "providers.yaml", server)
    suite = write_yaml(workdir / "suite.yaml", {
        "prompts": ["Say {{word}}"], "targets": ["alpha/m-1"],
        "tests": [{"description": f"word {i}", "vars": {"word": f"w{i}"},
                   "assert": [{"type": "contains", "value": f"w{i}"}]} for i in range(8)]})
    process = subprocess.Popen([str(SCRIPT), "eval", str(suite), "--config", str(config), "--concurrency", "1",
                                "-o", "partial.json", "-o", "partial.html"], cwd=workdir, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while upstream_calls(server) < 3:  # two cells answered, the third in flight
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted" in err
    data = results(workdir / "partial.json")
    validate_results(data)
    assert data["interrupted"] is True
    statuses = [c["status"] for c in data["cells"]]
    assert len(statuses) == 8
    assert 2 <= statuses.count("pass") < 8, statuses
    assert statuses.count("skipped") == 8 - statuses.count("pass")
    assert all(c["reason"] == "not run: interrupted" for c in data["cells"] if c["status"] == "skipped")
    assert "INTERRUPTED" in (workdir / "partial.html").read_text(encoding="utf-8")
