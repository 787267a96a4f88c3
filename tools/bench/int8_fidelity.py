"""int8 scores against fp32 scores of the same model (issue 28): every score's difference and the
rank correlation (Kendall tau) per list.

Lists: the parity lists of the model goldens (Tests/ListConRankerTests/Fixtures/model-goldens.json:
four lists of 1 + 9, 1 + 3, 1 + 1 and 1 + 13 passages, and the 1 + 45-passage iterative list,
scored conventionally here) and the benchmarks' `c20` list (1 + 20 passages of about 160 tokens).

  python3 tools/bench/int8_fidelity.py --model /tmp/full-model

Runs `listconranker score` (conventional scores) once per precision (release build).
"""
import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))
from compare_pytorch import make_lists  # noqa: E402


def kendall_tau(a, b):
    """Kendall's tau-b (ties handled as scipy.stats.kendalltau does)."""
    concordant = discordant = ties_a = ties_b = 0
    for i, j in itertools.combinations(range(len(a)), 2):
        da, db = a[i] - a[j], b[i] - b[j]
        if da == 0 and db == 0:
            continue
        if da == 0:
            ties_a += 1
        elif db == 0:
            ties_b += 1
        elif (da > 0) == (db > 0):
            concordant += 1
        else:
            discordant += 1
    denominator = ((concordant + discordant + ties_a) * (concordant + discordant + ties_b)) ** 0.5
    return (concordant - discordant) / denominator if denominator else 1.0


def scores(binary, model, path, precision):
    out = subprocess.run([binary, "score", "--model", model, "--input", path, "--precision", precision],
                         check=True, capture_output=True, text=True).stdout
    return [json.loads(line)["scores"] for line in out.splitlines() if line.strip()]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "listconranker"))
    args = p.parse_args()
    goldens = json.load(open(os.path.join(ROOT, "Tests", "ListConRankerTests", "Fixtures", "model-goldens.json")))
    golden = goldens["tiny-model"]
    lists = golden["lists"] + [golden["iterative_list"]] + make_lists("c20", random.Random(17))[0]
    names = [f"parity list {i + 1}" for i in range(len(golden["lists"]))] + ["iterative list (conventional)", "c20"]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for l in lists:
            f.write(json.dumps({"query": l[0], "passages": l[1:]}, ensure_ascii=False) + "\n")
        path = f.name
    fp32, int8 = scores(args.binary, args.model, path, "fp32"), scores(args.binary, args.model, path, "int8")
    os.unlink(path)
    rows = []
    for name, a, b in zip(names, fp32, int8):
        differences = [abs(x - y) for x, y in zip(a, b)]
        rows.append({"list": name, "passages": len(a), "max_difference": max(differences),
                     "mean_difference": sum(differences) / len(differences),
                     "kendall_tau": kendall_tau(a, b),
                     "same_top1": max(range(len(a)), key=a.__getitem__) == max(range(len(b)), key=b.__getitem__),
                     "fp32_score_range": [min(a), max(a)]})
    for row in rows:
        print(json.dumps(row))
    everything = [abs(x - y) for a, b in zip(fp32, int8) for x, y in zip(a, b)]
    print(json.dumps({"all_lists": True, "scores": len(everything), "max_difference": max(everything),
                      "mean_difference": sum(everything) / len(everything),
                      "min_kendall_tau": min(r["kendall_tau"] for r in rows)}))


if __name__ == "__main__":
    main()
