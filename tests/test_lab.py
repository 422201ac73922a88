"""`make lab` starts a JupyterLab server that lists the notebooks (checked through its API)."""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not (VENV / ".installed").exists(),
                    reason="needs the environment `make install` made (make test makes it)")
def test_make_lab_serves_the_notebooks(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token}"
    env = {**os.environ, "JUPYTER_DATA_DIR": str(tmp_path / "data"),  # the kernel lands here
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    proc = subprocess.Popen(["make", "-s", "-C", str(ROOT), "lab", f"VENV={VENV}", f"LAB_ARGS={args}"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/api/contents/notebooks?token={token}"
    try:
        listing = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    listing = json.load(response)
                break
            except OSError:
                time.sleep(0.5)
        assert listing is not None, proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no answer"
        names = {item["name"] for item in listing["content"]}
        assert "00_setup_check.ipynb" in names
        kernels = tmp_path / "data" / "kernels" / "fine-tuning-course" / "kernel.json"
        assert kernels.exists(), "make lab registers the course's kernel"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
