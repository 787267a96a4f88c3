"""The JSON report of a GPU check: named steps, each timed and recorded even when it fails (the next
still runs: on a scarce GPU, one failure must not cost the rest of the run), the file rewritten
after every step so that a run cut short keeps what it did."""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def full_size_model(directory, shape="full"):
    """The full-size random model in the official layout at `directory` (or with `shape` "m3e-shape",
    m3e-small's encoder under the full-size head), made there by the reference script when the
    folder does not exist. An existing folder is never written into: one that is not a complete
    model is an error (a model of the user's must not be overwritten)."""
    if not os.path.exists(directory):
        subprocess.run([sys.executable, os.path.join(ROOT, "tools/reference/make_model_fixtures.py"), shape, directory],
                       check=True, capture_output=True, timeout=600)
    if not os.path.exists(os.path.join(directory, "list_transformer.pt")):
        raise RuntimeError(f"{directory} exists but is not a ListConRanker model (no list_transformer.pt); "
                           "give --model a folder that does not exist, to have the full-size model made there")
    return directory


class StepReport:
    def __init__(self, path):
        self.path = path
        self.data = {"steps": {}, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        self.began = time.time()
        os.makedirs(os.path.dirname(path), exist_ok=True)

    def __setitem__(self, key, value):
        self.data[key] = value

    def step(self, name, body):
        """Runs `body` (returning a dict of results, or None) as step `name`."""
        t0 = time.time()
        try:
            self.data["steps"][name] = {"ok": True, **(body() or {})}
        except Exception as error:  # keep going: each step is recorded
            self.data["steps"][name] = {"ok": False, "error": str(error)[-3000:]}
        self.data["steps"][name]["seconds"] = round(time.time() - t0, 2)
        print(f"[{time.time() - self.began:6.1f}s] {name}: {json.dumps(self.data['steps'][name])[:600]}", flush=True)
        self.write()

    def write(self):
        self.data["seconds"] = round(time.time() - self.began, 1)
        with open(self.path, "w") as f:
            json.dump(self.data, f, indent=1)

    def summary(self):
        self.write()
        print("\nsummary:", json.dumps({k: (v.get("ok"), v.get("pass"), v.get("error", "")[:200])
                                        for k, v in self.data["steps"].items()}, ensure_ascii=False, indent=1))
