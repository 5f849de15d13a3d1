from helpers import EXAMPLES
from loadtest import run_load


def test_concurrent_clients_on_loopback_get_no_errors(server):
    """A bounded version of the load benchmark (benchmarks/serve_load.py runs 50 clients for 30 s)."""
    result = run_load(server, (EXAMPLES / "astronaut.jpg").read_bytes(), clients=12, seconds=3)
    assert result["errors"] == 0, result["errors_by_kind"]
    assert result["requests"] >= 12 and result["latency_ms"]["p50"] > 0
