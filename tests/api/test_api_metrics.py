"""The API's /metrics on its own port: Prometheus text, request latency by route template (not
by raw path), relay outcomes by refusal code; and JSON log lines from ``depin api serve``'s
logging configuration."""

from __future__ import annotations

import io
import json
import logging
import logging.config

from fastapi.testclient import TestClient
from metrics_helpers import Samples, parse_samples, value

from depin import logs


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse_samples(response.text)


def test_requests_move_the_latency_histogram_by_route_template(client: TestClient) -> None:
    before = scrape(client)
    for address in ("0x" + "11" * 20, "0x" + "22" * 20):
        client.get(f"/v1/providers/{address}")
    after = scrape(client)
    count = "depin_http_request_duration_seconds_count"
    route = {"method": "GET", "route": "/v1/providers/{address}"}
    assert value(after, count, **route) - value(before, count, **route) == 2
    assert value(after, "depin_http_request_duration_seconds_sum", **route) > value(
        before, "depin_http_request_duration_seconds_sum", **route
    )
    assert not any("0x1111" in str(labels) for _, labels in after)


def test_metrics_is_not_in_the_openapi_document(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_a_refused_relay_moves_the_relay_counter_with_its_code(client: TestClient) -> None:
    before = scrape(client)
    response = client.post("/v1/relay", json={"signature": "0x00"})
    code = response.json()["code"]
    assert response.status_code == 422
    after = scrape(client)
    relay = "depin_api_relay_total"
    assert value(after, relay, outcome=code) - value(before, relay, outcome=code) == 1


def test_uvicorn_logging_config_writes_one_json_object_a_line() -> None:
    stream = io.StringIO()
    config = logs.uvicorn_config("api", "json")
    config["handlers"]["stderr"]["stream"] = stream
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logging.config.dictConfig(config)
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/v1/gpus", "1.1", 200
        )
        logging.getLogger("depin.api").warning("relay follow failed", extra={"tx": "0xab"})
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["logger"] for e in lines] == ["uvicorn.access", "depin.api"]
    assert lines[0]["event"] == '127.0.0.1:1 - "GET /v1/gpus HTTP/1.1" 200'
    assert lines[1]["level"] == "warning" and lines[1]["tx"] == "0xab"
    assert all(e["service"] == "api" and e["ts"].endswith("Z") for e in lines)
