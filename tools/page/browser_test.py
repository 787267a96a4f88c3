#!/usr/bin/env python3
"""The page at GET / in a real headless browser (Chromium through selenium and chromedriver).

Starts the built `listconranker serve` on the tiny fixture model twice (without and with a feature
store) and checks, through the page's form:
  - the page loads without console errors and renders the OpenAPI document's every operation;
  - a rerank shows the passages in the order POST /v1/rerank returns them, with its scores;
  - an empty query shows the API's own error message;
  - with --store, ranking stored ids shows the ids in the API's order.
Saves screenshots (page.png, page-error.png, page-store.png) in --output.

Needs Debian's chromium and chromium-driver and `pip install selenium`; CI (.ci/run) installs them
and runs this after `swift test`. Exits non-zero on any failure, including a missing browser.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "Tests/ListConRankerTests/Fixtures/tiny-model"
API_KEY = "page-test-key"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(base, path, body=None, key=None, method=None):
    """(status, parsed JSON or text) of one request to the service."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


class Server:
    """`listconranker serve` on a free port, stopped (SIGTERM) on exit."""

    def __init__(self, binary, *arguments):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [binary, "serve", "--model", str(MODEL), "--port", str(self.port), *arguments],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def __enter__(self):
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"serve exited: {self.process.stderr.read().decode(errors='replace')}")
            try:
                if request(self.base, "/health")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("serve did not become healthy within 60 s")

    def __exit__(self, *_):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    options.add_argument("--headless=new")
    options.add_argument("--window-size=1400,1000")
    options.add_argument("--disable-gpu")
    options.add_argument("--disable-dev-shm-usage")
    options.add_argument("--lang=en-US")
    if os.geteuid() == 0:
        # Chromium refuses to run as root with its sandbox on (CI runs as root).
        options.add_argument("--no-sandbox")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


failures = []


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message)
    if not condition:
        failures.append(message)


def console_errors(driver, allowed=()):
    """Console entries at error level since the last call (reading empties the log), less those
    containing one of `allowed`."""
    entries = driver.get_log("browser")
    return [e["message"] for e in entries
            if e["level"] == "SEVERE" and not any(a in e["message"] for a in allowed)]


def wait(driver, condition, what, timeout=30):
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        return WebDriverWait(driver, timeout).until(lambda d: condition(d))
    except Exception as error:  # a timeout says which step
        raise SystemExit(f"timed out waiting for {what}: {error}")


def load(driver, server):
    from selenium.webdriver.common.by import By
    driver.get(server.base + "/")
    wait(driver, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true",
         "the page to render /openapi.json")
    wait(driver, lambda d: "Loading" not in d.find_element(By.ID, "model").text, "GET /info")


def submit(driver, query, lines, expect_error=False):
    """Types the form, ranks, waits for the result or the error; the shown (labels, scores) or message."""
    from selenium.webdriver.common.by import By
    query_box = driver.find_element(By.ID, "query")
    query_box.clear()
    query_box.send_keys(query)
    passages = driver.find_element(By.ID, "passages")
    passages.clear()
    passages.send_keys("\n".join(lines))
    driver.find_element(By.ID, "rank").click()
    if expect_error:
        wait(driver, lambda d: d.find_element(By.ID, "error").is_displayed(), "the error to show")
        return driver.find_element(By.ID, "error-message").text
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#results .result"), "the ranked result")
    rows = driver.find_elements(By.CSS_SELECTOR, "#results .result")
    return ([r.find_element(By.CLASS_NAME, "passage").text for r in rows],
            [r.find_element(By.CLASS_NAME, "score").text for r in rows],
            [r.find_element(By.CLASS_NAME, "bar").value_of_css_property("width") for r in rows])


def passages_page(driver, binary, output):
    from selenium.webdriver.common.by import By
    with Server(binary) as server:
        load(driver, server)
        errors = console_errors(driver)
        check(errors == [], f"the page loads without console errors {errors}")
        check(not driver.find_element(By.ID, "source").is_displayed(), "no stored-ids choice without a store")

        _, document = request(server.base, "/openapi.json")
        operations = sum(len(methods) for methods in document["paths"].values())
        shown = driver.find_elements(By.CSS_SELECTOR, "#operations details.operation")
        check(len(shown) == operations, f"the reference shows all {operations} operations ({len(shown)})")
        paths = {d.find_element(By.CLASS_NAME, "path").get_attribute("textContent") for d in shown}
        check(paths == set(document["paths"]), "the reference names every documented path")
        # The form starts from the document's /v1/rerank example.
        example = document["paths"]["/v1/rerank"]["post"]["requestBody"]["content"]["application/json"]["examples"]["documents"]["value"]
        check(driver.find_element(By.ID, "query").get_attribute("value") == example["query"],
              "the form starts with the document's example query")

        query = "高血压患者应该注意什么？"
        texts = ["高血压患者应当低盐饮食，规律服药。", "今天天气晴朗。", "适量运动有助于降低血压。",
                 "明天会下雨吗", "多吃蔬菜，少吃盐。"]
        labels, scores, _ = submit(driver, query, texts)
        status, answer = request(server.base, "/v1/rerank", {"query": query, "documents": texts})
        check(status == 200, "POST /v1/rerank answers 200")
        expected = [texts[r["index"]] for r in answer["results"]]
        check(labels == expected, f"the page shows the passages in the API's order\n  page {labels}\n  API  {expected}")
        check(scores == [f"{r['relevance_score']:.4f}" for r in answer["results"]], f"the page shows the API's scores {scores}")
        check(len(set(labels)) == len(texts), "every passage is shown once")
        errors = console_errors(driver)
        check(errors == [], f"no console errors after a rerank {errors}")
        # The reference opens: /v1/rerank shows its request's examples.
        rerank_entry = next(d for d in shown if d.find_element(By.CLASS_NAME, "path").text == "/v1/rerank")
        rerank_entry.find_element(By.TAG_NAME, "summary").click()
        examples = rerank_entry.find_elements(By.TAG_NAME, "pre")
        check(len(examples) == 2 and json.loads(examples[0].text) == example,
              "the opened /v1/rerank entry shows the document's examples")
        driver.save_screenshot(str(output / "page.png"))

        message = submit(driver, "", texts, expect_error=True)
        status, answer = request(server.base, "/v1/rerank", {"query": "", "documents": texts})
        check(status == 422 and message == answer["error"],
              f"an empty query shows the API's message\n  page {message!r}\n  API  {answer['error']!r}")
        check(driver.find_elements(By.CSS_SELECTOR, "#results .result") == [], "no stale result beside the error")
        # The 422 itself is logged by Chromium as a failed resource; nothing else may be.
        errors = console_errors(driver, allowed=["status of 422"])
        check(errors == [], f"no console errors but the refused request {errors}")
        driver.save_screenshot(str(output / "page-error.png"))


def store_page(driver, binary, output):
    from selenium.webdriver.common.by import By
    with tempfile.TemporaryDirectory() as scratch:
        with Server(binary, "--store", str(Path(scratch) / "features.sqlite"), "--api-key", API_KEY) as server:
            passages = {"bp-diet": "高血压患者应当低盐饮食，规律服药。", "weather": "今天天气晴朗。",
                        "bp-exercise": "适量运动有助于降低血压。", "rain": "明天会下雨吗"}
            status, _ = request(server.base, "/v1/index",
                                {"documents": [{"id": k, "text": v} for k, v in passages.items()]}, key=API_KEY)
            check(status == 200, "POST /v1/index fills the store")
            load(driver, server)
            errors = console_errors(driver)
            check(errors == [], f"the page with a store loads without console errors {errors}")
            check(driver.find_element(By.ID, "source").is_displayed(), "a store offers stored ids")
            driver.find_element(By.CSS_SELECTOR, 'input[name="source"][value="document_ids"]').click()
            query = "高血压患者应该注意什么？"
            ids = list(passages)
            labels, _, _ = submit(driver, query, ids)
            status, answer = request(server.base, "/v1/rerank", {"query": query, "document_ids": ids})
            expected = [r["id"] for r in answer["results"]]
            check(status == 200 and labels == expected,
                  f"stored ids show in the API's order\n  page {labels}\n  API  {expected}")
            driver.save_screenshot(str(output / "page-store.png"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=str(ROOT / ".build/debug/listconranker"))
    parser.add_argument("--output", default=str(ROOT / ".build/page-test"))
    arguments = parser.parse_args()
    output = Path(arguments.output)
    output.mkdir(parents=True, exist_ok=True)
    if not Path(arguments.binary).exists():
        raise SystemExit(f"no {arguments.binary}: build first (swift build)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        raise SystemExit("selenium is missing: pip install selenium (and apt-get install chromium chromium-driver)")

    driver = browser()
    try:
        passages_page(driver, arguments.binary, output)
        store_page(driver, arguments.binary, output)
    finally:
        driver.quit()
    print(f"screenshots in {output}")
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
