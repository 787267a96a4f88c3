"""Speed against the PyTorch original, in one run on this machine (../shared/DESIGN.md §6, issue 6).

Builds nothing: run `swift build -c release` first. For each case it writes the inputs, times
the PyTorch reference (listconranker_reference.py: the original compute_score /
iterative_inference, torch.set_num_threads(2)) and `listconranker bench rerank --paced` on the
same inputs and model, checks that the scores agree, and prints the ratio.

This machine's speed drifts by tens of percent within seconds, so the two sides take turns
pass by pass: the Swift process loads the model and warms up once, then runs one timed pass
each time it is asked, right after (or, every other round, right before) a PyTorch pass. Each
round gives one ratio; the reported speed-up is the median of those ratios.

  python3 tools/bench/compare_pytorch.py --model /tmp/full-model [--precision fp32|bf16] [--cases c20,i100,i1000] [--rounds 3]

Cases: c20 (1 + 20 passages of about 160 tokens, conventional), c20mixed (the same with passages
of 120 to 200 tokens), i100 and i1000 (1 + 100 and 1 + 1000 passages, iterative).

Make a full-size random model with: python3 tools/reference/make_model_fixtures.py full /tmp/full-model
"""
import argparse
import json
import os
import random
import sys
import time

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
from listconranker_reference import Reranker  # noqa: E402
from paced_bench import PacedBench  # noqa: E402

# Chinese BERT vocabulary characters: about one token each.
CHARS = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质"


def text(rng, tokens):
    return "".join(rng.choice(CHARS) for _ in range(tokens))


def make_lists(case, rng):
    if case == "c20":   # one list of 1 + 20 passages of about 160 tokens, conventional
        return [[text(rng, 20)] + [text(rng, 158) for _ in range(20)]], False
    if case == "c20mixed":  # the same with passages of 120 to 200 tokens, as real lists have
        return [[text(rng, 20)] + [text(rng, rng.randint(118, 198)) for _ in range(20)]], False
    n = int(case[1:])   # iN: one list of 1 + N passages of about 160 tokens, iterative
    return [[text(rng, 20)] + [text(rng, 158) for _ in range(n)]], True


def time_pytorch(ranker, lists, iterative):
    ranker.encoder_texts = 0
    start = time.perf_counter()
    scores = [ranker.iterative_inference(l) if iterative else ranker.compute_score([l])[0] for l in lists]
    return time.perf_counter() - start, scores, ranker.encoder_texts


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--cases", default="c20,i100,i1000")
    p.add_argument("--rounds", type=int, default=9,
                   help="rounds of one PyTorch pass and one Swift pass, side by side (the median of the "
                        "rounds' ratios is reported); this machine's speed drifts by tens of percent")
    p.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "listconranker"))
    args = p.parse_args()
    torch.set_num_threads(2)
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    for case in args.cases.split(","):
        rng = random.Random(17)
        lists, iterative = make_lists(case, rng)
        path = f"/tmp/lcr-bench-{case}.jsonl"
        with open(path, "w") as f:
            for l in lists:
                f.write(json.dumps({"query": l[0], "passages": l[1:]}, ensure_ascii=False) + "\n")
        rounds = 1 if case == "i1000" else args.rounds
        ranker = Reranker(args.model, dtype=dtype)
        if case != "i1000":
            time_pytorch(ranker, lists, iterative)  # warm-up, as the Swift side has
        swift = PacedBench(args.binary, args.model, path, args.precision, path + ".scores",
                           ["--iterative"] if iterative else [])
        py_times, sw_times, ratios, peak = [], [], [], 0
        for r in range(rounds):
            if r % 2 == 0:  # which side goes first alternates
                t, s_py, py_texts = time_pytorch(ranker, lists, iterative)
                report, s_sw = swift.timed_pass()
            else:
                report, s_sw = swift.timed_pass()
                t, s_py, py_texts = time_pytorch(ranker, lists, iterative)
            py_times.append(t)
            sw_times.append(report["seconds"])
            ratios.append(py_times[-1] / sw_times[-1])
            peak = max(peak, report["peakResidentMiB"])
        swift.close()
        t_py, t_sw = median(py_times), median(sw_times)
        diff = max(abs(a - b) for x, y in zip(s_py, s_sw) for a, b in zip(x, y))
        if iterative:  # iterative scores order passages; compare orders too
            order_py = [sorted(range(len(x)), key=lambda i: -x[i]) for x in s_py]
            order_sw = [sorted(range(len(x)), key=lambda i: -x[i]) for x in s_sw]
            same_order = order_py == order_sw
        else:
            same_order = True
        print(json.dumps({"case": case, "precision": args.precision, "tokens": report["tokens"],
                          "pytorch_seconds": round(t_py, 3), "swift_seconds": round(t_sw, 3),
                          "speedup": round(median(ratios), 2),
                          "ratios": [round(x, 2) for x in ratios],
                          "pytorch_all": [round(t, 2) for t in py_times], "swift_all": [round(t, 2) for t in sw_times],
                          "pytorch_encoder_texts": py_texts, "swift_encoder_texts": report["encoderTextsPerPass"],
                          "max_score_difference": diff, "same_order": same_order,
                          "swift_peak_resident_MiB": round(peak)}), flush=True)


if __name__ == "__main__":
    main()
