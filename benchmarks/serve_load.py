"""Load on the web service over loopback: starts `bfer serve`, runs 50 closed-loop clients for 30 s
posting examples/astronaut.jpg to /v1/predict, polling /healthz meanwhile; writes
benchmarks/results/serve_load.json.

    python benchmarks/serve_load.py [--model default] [--clients 50] [--seconds 30] [--workers 1]
    python benchmarks/serve_load.py --attacker    # then 49 clients + 1 attacker, against the same server

``--attacker`` runs the normal load first, then again with one client replaced by an attacker that
sends what once stalled the service (16 lossless 6000x6000 WebPs in a batch, one such WebP, a
30000x1333 PNG, a 40,000,000x1 PNG) for the whole run; targets: normal requests' p99 within 3x of
the run without the attacker, /healthz p99 < 1 s, no 5xx. Writes serve_load_attacker.json.
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

from loadtest import attack_payloads, free_port, run_load, wait_until_healthy

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--attacker", action="store_true", help="also run with one attacking client")
    parser.add_argument("--out", type=Path, help="default benchmarks/results/serve_load[_attacker].json")
    args = parser.parse_args()

    port = free_port()
    command = [sys.executable, "-m", "balanced_fer.cli", "serve", "--port", str(port), "--model", args.model]
    command += ["--workers", str(args.workers), "--queue", str(2 * args.clients)]
    server = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server)
        photo = (ROOT / "examples" / "astronaut.jpg").read_bytes()
        result = run_load(url, photo, args.clients, args.seconds)
        if args.attacker:
            attacked = run_load(url, photo, args.clients, args.seconds, attack=attack_payloads())
            five_xx = sum(n for status, n in attacked["attacker_answers"].items() if status.startswith("5"))
            five_xx += sum(n for kind, n in attacked["errors_by_kind"].items() if kind.startswith("HTTP 5"))
            result = {
                "without_attacker": result,
                "with_attacker": attacked,
                "p99_ratio": round(attacked["latency_ms"]["p99"] / result["latency_ms"]["p99"], 2),
                "server_errors": five_xx,
            }
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
    args.out = args.out or ROOT / "benchmarks" / "results" / f"serve_load{'_attacker' if args.attacker else ''}.json"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
