#!/usr/bin/env python3
"""Bounded load test of the rerank HTTP service, on loopback only. Python stdlib only.

Starts the server command, waits for GET /health to answer 200, runs CLIENTS concurrent
keep-alive clients against POST /rerank (or /v1/rerank) until DURATION seconds have passed or
MAX_REQUESTS requests were sent, then sends SIGTERM and checks the server drains and exits 0.
Reports throughput, p50/p99 latency, failed requests by status, and the server's resident memory
(VmRSS) after start-up and at the end.

    swift build -c release --product listconranker-loadtest-server
    tools/loadtest/loadtest.py --server .build/release/listconranker-loadtest-server --latency-ms 20

Against the real model, once `listconranker serve` is wired:

    tools/loadtest/loadtest.py --server-cmd '.build/release/listconranker serve --model DIR --port {port}'

Passages by id from the feature store (indexed through POST /v1/index before the load starts):

    tools/loadtest/loadtest.py --document-ids --api-key K --server-cmd \
        '.build/release/listconranker serve --model DIR --port {port} --store /tmp/lt.sqlite --api-key K'
"""
import argparse
import http.client
import json
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"  # loopback only, by design


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def rss_kib(pid):
    """(VmRSS, VmHWM) of a process in KiB, from /proc."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def scrape_metrics(port):
    """The server's own view: requests by status, model time and queue wait (from GET /metrics)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    wanted = ("listconranker_inference_duration_seconds_sum", "listconranker_inference_duration_seconds_count",
              "listconranker_queue_wait_duration_seconds_sum", "listconranker_tokens_processed_total",
              "listconranker_http_requests_total", "listconranker_vector_cache")
    metrics = {}
    for line in text.splitlines():
        if line.startswith(wanted):
            name, _, value = line.rpartition(" ")
            metrics[name] = float(value)
    return metrics


def kill_if_running(process):
    """The clean-up of every exit path: a server still running after an error is killed."""
    if process.poll() is None:
        process.kill()
        process.wait()


def wait_healthy(port, process, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode} before becoming healthy")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"server not healthy after {timeout} s")


def make_bodies(route, texts_per_request, words_per_text, seed=7, document_ids=False, count=64):
    """`count` request bodies, and for document_ids the passages they name as {id: text}."""
    vocabulary = ("capital city river mountain france paris berlin germany rome italy music "
                  "history science ocean forest winter summer bridge harbour market train").split()
    rng = random.Random(seed)
    bodies = []
    passages = {}
    for number in range(count):
        query = " ".join(rng.choice(vocabulary) for _ in range(4))
        texts = [" ".join(rng.choice(vocabulary) for _ in range(words_per_text)) for _ in range(texts_per_request)]
        if document_ids:
            ids = [f"lt-{number}-{i}" for i in range(texts_per_request)]
            passages.update(zip(ids, texts))
            body = {"query": query, "document_ids": ids, "top_n": 3}
        elif route == "/rerank":
            body = {"query": query, "texts": texts, "truncate": True}
        else:
            body = {"query": query, "documents": texts, "top_n": 3}
        bodies.append(json.dumps(body).encode())
    return bodies, passages


def index_passages(port, passages, api_key, batch=32):
    """POST /v1/index in batches small enough for the default max-batch-tokens."""
    connection = http.client.HTTPConnection(HOST, port, timeout=600)
    items = sorted(passages.items())
    for start in range(0, len(items), batch):
        documents = [{"id": i, "text": t} for i, t in items[start:start + batch]]
        connection.request("POST", "/v1/index", json.dumps({"documents": documents}).encode(),
                           {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"})
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise SystemExit(f"POST /v1/index answered {response.status}: {payload[:300]!r}")
    connection.close()


def percentile(sorted_values, fraction):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", help="path of listconranker-loadtest-server (fake engine)")
    parser.add_argument("--latency-ms", type=int, default=20, help="fake engine's time per request")
    parser.add_argument("--server-cmd", help="full server command; {port} is replaced by the port")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after this many requests")
    parser.add_argument("--route", choices=["/rerank", "/v1/rerank"], default="/rerank")
    parser.add_argument("--texts", type=int, default=10, help="texts per request")
    parser.add_argument("--words", type=int, default=30, help="words per text")
    parser.add_argument("--bodies", type=int, default=64,
                        help="distinct request bodies, sent in turn (fewer: less to index and warm up on a big model)")
    parser.add_argument("--document-ids", action="store_true",
                        help="POST /v1/rerank with document_ids (the server needs --store and --api-key); "
                             "the passages are indexed first")
    parser.add_argument("--api-key", help="the server's --api-key, to index the passages for --document-ids")
    parser.add_argument("--json", help="also write the report as JSON to this file")
    args = parser.parse_args()
    if args.document_ids:
        if not args.api_key:
            parser.error("--document-ids needs --api-key (the passages are indexed through POST /v1/index)")
        args.route = "/v1/rerank"

    port = free_port()
    if args.server_cmd:
        command = shlex.split(args.server_cmd.replace("{port}", str(port)))
    elif args.server:
        command = [args.server, "--host", HOST, "--port", str(port), "--latency-ms", str(args.latency_ms),
                   "--max-concurrent-requests", str(max(64, args.clients * 2))]
    else:
        parser.error("give --server or --server-cmd")

    log = open(os.devnull, "w")
    process = subprocess.Popen(command, stdout=log, stderr=log)
    try:
        wait_healthy(port, process, timeout=300)
        rss_ready, _ = rss_kib(process.pid)
        bodies, passages = make_bodies(args.route, args.texts, args.words, document_ids=args.document_ids,
                                       count=args.bodies)
        if args.document_ids:
            index_passages(port, passages, args.api_key)
        # Warm-up: each distinct request once, so the kernels every request shape needs are
        # compiled and cached before memory is measured; growth after that would be a leak.
        warm = http.client.HTTPConnection(HOST, port, timeout=60)
        for body in bodies:
            warm.request("POST", args.route, body, {"Content-Type": "application/json"})
            warm.getresponse().read()
        warm.close()
        rss_start, _ = rss_kib(process.pid)

        lock = threading.Lock()
        sent = [0]
        latencies = []
        failures = {}
        deadline = time.monotonic() + args.duration

        def client(number):
            connection = http.client.HTTPConnection(HOST, port, timeout=60)
            local_latencies, local_failures = [], {}
            index = number
            while time.monotonic() < deadline:
                with lock:
                    if sent[0] >= args.max_requests:
                        break
                    sent[0] += 1
                body = bodies[index % len(bodies)]
                index += args.clients
                start = time.perf_counter()
                try:
                    connection.request("POST", args.route, body, {"Content-Type": "application/json"})
                    response = connection.getresponse()
                    payload = response.read()
                    elapsed = time.perf_counter() - start
                    if response.status == 200:
                        result = json.loads(payload)
                        count = len(result) if args.route == "/rerank" else len(result["results"])
                        expected = args.texts if args.route == "/rerank" else min(3, args.texts)
                        if count != expected:
                            local_failures["wrong result count"] = local_failures.get("wrong result count", 0) + 1
                        else:
                            local_latencies.append(elapsed)
                    else:
                        local_failures[response.status] = local_failures.get(response.status, 0) + 1
                except (OSError, http.client.HTTPException) as error:
                    local_failures[type(error).__name__] = local_failures.get(type(error).__name__, 0) + 1
                    connection.close()
                    connection = http.client.HTTPConnection(HOST, port, timeout=60)
            connection.close()
            with lock:
                latencies.extend(local_latencies)
                for key, value in local_failures.items():
                    failures[str(key)] = failures.get(str(key), 0) + value

        started = time.monotonic()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        rss_end, rss_peak = rss_kib(process.pid)
        server_metrics = scrape_metrics(port)

        stop_started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=60)
        stop_seconds = time.monotonic() - stop_started
    finally:
        kill_if_running(process)

    latencies.sort()
    report = {
        "command": command,
        "route": args.route + (" (document_ids)" if args.document_ids else ""),
        "clients": args.clients,
        "texts_per_request": args.texts,
        "seconds": round(elapsed, 2),
        "requests": sent[0],
        "ok": len(latencies),
        "failed": sum(failures.values()),
        "failures": failures,
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "latency_p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "latency_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "rss_ready_mib": round(rss_ready / 1024, 1),
        "rss_start_mib": round(rss_start / 1024, 1),
        "rss_end_mib": round(rss_end / 1024, 1),
        "rss_peak_mib": round(rss_peak / 1024, 1),
        "server_metrics": server_metrics,
        "sigterm_exit_code": exit_code,
        "sigterm_exit_seconds": round(stop_seconds, 2),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as output:
            json.dump(report, output, indent=2)
    return 0 if report["failed"] == 0 and exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
