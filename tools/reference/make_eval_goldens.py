"""End-to-end evaluation goldens: the PyTorch reference pipeline (listconranker_reference.py,
tiny random checkpoint) scores the committed fixture dataset in both modes, and scikit-learn
plus a plain MRR compute the metrics, exactly as ../shared/DESIGN.md §1.3 defines them.

  python tools/reference/make_eval_goldens.py
"""
import json
import os
import sys

import numpy as np
import torch
from sklearn.metrics import average_precision_score

sys.path.insert(0, os.path.dirname(__file__))
from listconranker_reference import Reranker  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "ListConRankerTests", "Fixtures")


def mrr_at(relevant, scores, k):
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # stable: ties keep data order
    for rank, i in enumerate(order[:k]):
        if relevant[i]:
            return 1.0 / (rank + 1)
    return 0.0


def main():
    torch.set_num_threads(2)
    ranker = Reranker(os.path.join(FIXTURES, "tiny-model"))
    samples = [json.loads(l) for l in open(os.path.join(FIXTURES, "evaluation", "fixture_dataset.jsonl"), encoding="utf-8") if l.strip()]
    out = {}
    for mode in ("conventional", "iterative"):
        aps, m1, m5, m10, per_sample = [], [], [], [], []
        skipped = 0
        for s in samples:
            if not s["positive"] or not s["negative"]:
                skipped += 1
                continue
            passages = s["positive"] + s["negative"]
            if mode == "iterative":
                scores = ranker.iterative_inference([s["query"]] + passages)
            else:
                scores = ranker.compute_score([[s["query"]] + passages])[0]
            relevant = [1] * len(s["positive"]) + [0] * len(s["negative"])
            aps.append(average_precision_score(relevant, scores))
            m1.append(mrr_at(relevant, scores, 1))
            m5.append(mrr_at(relevant, scores, 5))
            m10.append(mrr_at(relevant, scores, 10))
            per_sample.append([float(x) for x in scores])
        out[mode] = {"map": float(np.mean(aps)) * 100, "mrr_at_1": float(np.mean(m1)) * 100,
                     "mrr_at_5": float(np.mean(m5)) * 100, "mrr_at_10": float(np.mean(m10)) * 100,
                     "scored": len(aps), "skipped": skipped, "scores": per_sample}
        print(mode, {k: v for k, v in out[mode].items() if k != "scores"})
    json.dump(out, open(os.path.join(FIXTURES, "evaluation", "fixture_dataset_model_goldens.json"), "w"))


if __name__ == "__main__":
    main()
