#!/usr/bin/env python3
"""Writes the evaluation fixtures under Tests/ListConRankerTests/Fixtures/evaluation/.

1. metric_goldens.json: 300 random score lists (2-150 candidates, scores rounded to 1 or 2
   decimals so ties are common) with their average precision from scikit-learn's
   average_precision_score and MRR@1/5/10 from the reference below. The Swift metrics must
   match them to 1e-9.
2. fixture_dataset.jsonl: a small C-MTEB-shaped dataset of short Chinese texts built from a
   word pool (for end-to-end evaluation tests): 60 samples, lists of 2-150 candidates, some
   samples without a positive, one without a negative.
3. fixture_dataset_overlap_expected.json: the metrics of that dataset under the "overlap"
   scorer (score = how many characters of the passage occur in the query, counted with
   multiplicity), which the Swift test re-implements; it checks the whole evaluator
   (skipping, list order, means, x100) against scikit-learn.

Everything is seeded: running the script again writes identical files.
Usage: python3 tools/reference/make_metric_goldens.py
"""

import json
import random
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score

OUT = Path(__file__).resolve().parents[2] / "Tests" / "ListConRankerTests" / "Fixtures" / "evaluation"
CUTOFFS = (1, 5, 10)


def reciprocal_rank(relevant, scores, cutoff):
    """1 / rank of the first relevant item among the top `cutoff`, ranked by a stable
    descending sort (ties keep list order); 0 when none is there."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])  # Python's sort is stable.
    # Cross-check the tie rule with numpy's stable argsort on negated scores.
    assert list(np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")) == order
    for rank, index in enumerate(order[:cutoff], start=1):
        if relevant[index]:
            return 1.0 / rank
    return 0.0


def average_precision(relevant, scores):
    return float(average_precision_score(np.asarray(relevant, dtype=int), np.asarray(scores, dtype=np.float64)))


def metric_goldens(rng):
    cases = []
    for case in range(300):
        # Mostly short lists like T2Reranking, some long ones like CMedQA (100) and beyond.
        n = rng.choice([rng.randint(2, 20), rng.randint(2, 20), rng.randint(21, 150)])
        if case < 3:
            n = (2, 150, 3)[case]
        decimals = rng.choice([1, 2])
        low, high = rng.choice([(0.0, 1.0), (0.0, 1.0), (-3.0, 3.0)])
        scores = [round(rng.uniform(low, high), decimals) for _ in range(n)]
        if case % 50 == 7:
            scores = [0.5] * n  # one single threshold: every candidate tied
        if case % 60 == 11:
            relevant = [True] * n  # no negative: AP is 1
        else:
            positives = rng.randint(1, max(1, min(n - 1, rng.choice([1, 2, 3, 10]))))
            chosen = set(rng.sample(range(n), positives))
            relevant = [i in chosen for i in range(n)]
        entry = {"relevant": relevant, "scores": scores, "average_precision": average_precision(relevant, scores)}
        for k in CUTOFFS:
            entry[f"mrr_at_{k}"] = reciprocal_rank(relevant, scores, k)
        cases.append(entry)
    return cases


# A small pool of words and sentence patterns, enough for short, plausible Chinese
# medical-forum and everyday questions and answers.
SUBJECTS = ["高血压", "糖尿病", "感冒", "头痛", "失眠", "胃炎", "咳嗽", "过敏性鼻炎", "发烧", "腰痛",
            "贫血", "湿疹", "便秘", "颈椎病", "近视", "牙龈出血"]
FOODS = ["咖啡", "绿茶", "牛奶", "米饭", "辣椒", "苹果", "鸡蛋", "红枣", "蜂蜜", "西瓜"]
ACTIONS = ["多喝温水", "按时服药", "注意休息", "少吃油腻食物", "适量运动", "保持心情舒畅",
           "及时去医院检查", "避免熬夜", "清淡饮食", "定期复查"]
SYMPTOMS = ["头晕乏力", "口干多尿", "鼻塞流涕", "胸闷气短", "食欲不振", "皮肤瘙痒", "腹部胀痛", "视力模糊"]
QUESTION_PATTERNS = ["{s}应该怎么办", "{s}吃什么药比较好", "{s}有什么症状", "怎样预防{s}",
                     "{s}平时需要注意什么", "{s}可以吃{f}吗", "{s}会不会自己好", "孩子{s}怎么护理"]
ANSWER_PATTERNS = ["{s}患者应该{a}", "建议{a}，同时{b}", "{s}常见的表现是{y}", "{s}期间可以适量吃{f}",
                   "{s}一般不严重，{a}就可以", "得了{s}最好{a}，不要吃{f}", "{s}和{y}有关，需要{a}",
                   "医生说{s}要{a}", "{f}对{s}没有明显帮助", "出现{y}时要警惕{s}"]


def sentence(rng, patterns, subject):
    while True:
        text = rng.choice(patterns).format(
            s=subject, f=rng.choice(FOODS), a=rng.choice(ACTIONS), b=rng.choice(ACTIONS), y=rng.choice(SYMPTOMS))
        if 5 <= len(text) <= 40:
            return text


def fixture_dataset(rng):
    samples = []
    for index in range(60):
        subject = rng.choice(SUBJECTS)
        others = [s for s in SUBJECTS if s != subject]
        size = rng.choice([rng.randint(2, 12), rng.randint(2, 30), rng.randint(2, 150)])
        if index < 2:
            size = (2, 150)[index]
        if index in (5, 23, 41, 57):
            positives = 0  # skipped by evaluation: no positive
        elif index == 30:
            positives = size  # skipped by evaluation: no negative
        else:
            positives = rng.randint(1, min(size - 1, 5))
        query = sentence(rng, QUESTION_PATTERNS, subject)
        positive = [sentence(rng, ANSWER_PATTERNS, subject) for _ in range(positives)]
        negative = [sentence(rng, ANSWER_PATTERNS, rng.choice(others)) for _ in range(size - positives)]
        samples.append({"query": query, "positive": positive, "negative": negative})
    return samples


def overlap_score(query, passage):
    """How many characters (code points) of the passage occur in the query."""
    characters = set(query)
    return float(sum(1 for character in passage if character in characters))


def overlap_expected(samples):
    totals = {"map": 0.0, "mrr_at_1": 0.0, "mrr_at_5": 0.0, "mrr_at_10": 0.0}
    scored = skipped = 0
    for sample in samples:
        if not sample["positive"] or not sample["negative"]:
            skipped += 1
            continue
        passages = sample["positive"] + sample["negative"]
        relevant = [True] * len(sample["positive"]) + [False] * len(sample["negative"])
        scores = [overlap_score(sample["query"], passage) for passage in passages]
        totals["map"] += average_precision(relevant, scores)
        for k in CUTOFFS:
            totals[f"mrr_at_{k}"] += reciprocal_rank(relevant, scores, k)
        scored += 1
    result = {name: 100.0 * value / scored for name, value in totals.items()}
    result.update(samples_scored=scored, samples_skipped=skipped)
    return result


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20250107)
    (OUT / "metric_goldens.json").write_text(json.dumps(metric_goldens(rng)) + "\n", encoding="utf-8")
    samples = fixture_dataset(rng)
    with open(OUT / "fixture_dataset.jsonl", "w", encoding="utf-8") as file:
        for sample in samples:
            file.write(json.dumps(sample, ensure_ascii=False) + "\n")
    (OUT / "fixture_dataset_overlap_expected.json").write_text(
        json.dumps(overlap_expected(samples), indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
