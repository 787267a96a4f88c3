"""One `listconranker bench rerank --paced` process, shared by the comparison scripts here.

It loads the model and warms up once, then runs one timed pass each time it is asked, so a
script can put its passes right next to a peer's on this machine, whose speed drifts by tens
of percent within seconds.
"""
import json
import subprocess


class PacedBench:
    def __init__(self, binary, model, input_path, precision, scores_path, extra_args=()):
        cmd = [binary, "bench", "rerank", "--model", model, "--input", input_path, "--precision", precision,
               "--scores-out", scores_path, "--paced", *extra_args]
        self.scores_path = scores_path
        self.process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self.process.stdout.readline()
        if not ready or not json.loads(ready).get("ready"):
            raise SystemExit(f"{binary} bench rerank did not start: {ready!r}")

    def timed_pass(self):
        """Runs one pass; returns its report (`seconds`, `peakResidentMiB`, …) and every list's scores."""
        self.process.stdin.write("pass\n")
        self.process.stdin.flush()
        report = json.loads(self.process.stdout.readline())
        with open(self.scores_path) as f:
            scores = [json.loads(line)["scores"] for line in f]
        return report, scores

    def close(self):
        self.process.stdin.close()
        self.process.wait()
