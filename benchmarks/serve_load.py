"""Load on the web service over loopback: starts `bfer serve`, runs 50 closed-loop clients for 30 s
posting examples/astronaut.jpg to /v1/predict; writes benchmarks/results/serve_load.json.

    python benchmarks/serve_load.py [--model default] [--clients 50] [--seconds 30] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import httpx

from balanced_fer.serving.loadtest import free_port, run_load, wait_until_healthy

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serve_load.json")
    args = parser.parse_args()

    port = free_port()
    command = [sys.executable, "-m", "balanced_fer.cli", "serve", "--port", str(port), "--model", args.model]
    command += ["--workers", str(args.workers), "--queue", str(2 * args.clients)]
    server = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server)
        result = run_load(url, (ROOT / "examples" / "astronaut.jpg").read_bytes(), args.clients, args.seconds)
        result |= {
            "model": args.model,
            "workers": args.workers,
            "image": "examples/astronaut.jpg (512x512, one face)",
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, server and clients on the same machine",
            "healthy_after": httpx.get(url + "/healthz").json()["status"] == "ok",
        }
    finally:
        server.terminate()
        server.wait(10)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
