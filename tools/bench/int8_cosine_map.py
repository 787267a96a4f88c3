"""What int8 does to a real ranking: m3e-small's cosine ranking of a manpages-zh dev set
(tools/make_manpages_task.py), MAP and MRR@10 with fp32 and with int8 embeddings (issue 28).

  python3 tools/bench/int8_cosine_map.py --dev /tmp/manpages/dev.jsonl --model .models/m3e-small

Runs `listconranker embed` once per precision over every distinct text of the dev set. MAP is
scikit-learn's average precision (as the project's evaluator computes it), ×100.
"""
import argparse
import json
import os
import subprocess
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def average_precision(relevant, scores):
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    hits, total, positives = 0, 0.0, sum(relevant)
    for rank, i in enumerate(order, 1):
        if relevant[i]:
            hits += 1
            total += hits / rank
    return total / positives


def reciprocal_rank_at_10(relevant, scores):
    order = sorted(range(len(scores)), key=lambda i: -scores[i])[:10]
    return next((1 / (rank + 1) for rank, i in enumerate(order) if relevant[i]), 0.0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dev", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "listconranker"))
    args = p.parse_args()
    samples = [json.loads(line) for line in open(args.dev, encoding="utf-8") if line.strip()]
    texts = sorted({t for s in samples for t in [s["query"]] + s["positive"] + s["negative"]})
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("".join(t.replace("\n", " ") + "\n" for t in texts))
        path = f.name
    result = {}
    vectors = {}
    for precision in ("fp32", "int8"):
        out = subprocess.run([args.binary, "embed", "--model", args.model, "--precision", precision, "--input", path],
                             check=True, capture_output=True, text=True).stdout.splitlines()
        table = {}
        for t, line in zip(texts, out):
            v = json.loads(line)
            n = sum(x * x for x in v) ** 0.5
            table[t] = [x / n for x in v]
        vectors[precision] = table
        aps, rrs = [], []
        for s in samples:
            passages = s["positive"] + s["negative"]
            relevant = [True] * len(s["positive"]) + [False] * len(s["negative"])
            q = table[s["query"]]
            scores = [sum(a * b for a, b in zip(q, table[t])) for t in passages]
            aps.append(average_precision(relevant, scores))
            rrs.append(reciprocal_rank_at_10(relevant, scores))
        result[precision] = {"map": round(100 * sum(aps) / len(aps), 2), "mrr_at_10": round(100 * sum(rrs) / len(rrs), 2)}
    os.unlink(path)
    cosines = [sum(a * b for a, b in zip(vectors["fp32"][t], vectors["int8"][t])) for t in texts]
    print(json.dumps({"queries": len(samples), "texts": len(texts), **result,
                      "int8_vs_fp32_cosine_min": round(min(cosines), 5),
                      "int8_vs_fp32_cosine_mean": round(sum(cosines) / len(cosines), 5)}))


if __name__ == "__main__":
    main()
