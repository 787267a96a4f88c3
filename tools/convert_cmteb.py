#!/usr/bin/env python3
"""Converts the C-MTEB reranking datasets from the Hugging Face hub to the JSON lines that
`listconranker eval` reads: one object per line, {"query": str, "positive": [str], "negative": [str]},
in the dataset's order, nothing dropped (the evaluator itself skips samples that lack a positive
or a negative, and counts them).

Needs network access and the `datasets` library (pip install datasets). Output files are named
TASK.SPLIT.jsonl (e.g. T2Reranking.dev.jsonl), from which the evaluator takes the task name and split.

    python3 tools/convert_cmteb.py --output-dir data                 # all four tasks
    python3 tools/convert_cmteb.py --output-dir data T2Reranking     # one task
    python3 tools/convert_cmteb.py --self-test                       # offline check of the conversion
"""

import argparse
import json
import sys
from pathlib import Path

# Task name -> (hub dataset, revision, evaluated split), as MTEB pins them
# (mteb/tasks/Reranking/zho/CMTEBReranking.py).
TASKS = {
    "CMedQAv1-reranking": ("C-MTEB/CMedQAv1-reranking", "8d7f1e942507dac42dc58017c1a001c3717da7df", "test"),
    "CMedQAv2-reranking": ("C-MTEB/CMedQAv2-reranking", "23d186750531a14a0357ca22cd92d712fd512ea0", "test"),
    "MMarcoReranking": ("C-MTEB/Mmarco-reranking", "8e0c766dbe9e16e1d221116a3f36795fbade07f6", "dev"),
    "T2Reranking": ("C-MTEB/T2Reranking", "76631901a18387f85eaa53e5450019b87ad58ef9", "dev"),
}


class ConversionError(ValueError):
    pass


def convert_row(row, index):
    """One hub row -> one output object; `index` (0-based) names the row in errors."""
    query = row.get("query")
    if not isinstance(query, str):
        raise ConversionError(f"row {index}: 'query' must be a string, found {type(query).__name__}")
    sample = {"query": query}
    for field in ("positive", "negative"):
        texts = row.get(field)
        if not isinstance(texts, (list, tuple)) or not all(isinstance(text, str) for text in texts):
            raise ConversionError(f"row {index}: '{field}' must be a list of strings, found {texts!r:.80}")
        sample[field] = list(texts)
    return sample


def convert_rows(rows):
    """Yields the output objects for an iterable of hub rows (dicts), in order."""
    for index, row in enumerate(rows):
        yield convert_row(row, index)


def write_jsonl(samples, path):
    """Writes samples one JSON object per line, UTF-8, Chinese left unescaped; returns the count."""
    count = 0
    temporary = path.with_name(path.name + ".partial")
    with open(temporary, "w", encoding="utf-8", newline="\n") as file:
        for sample in samples:
            file.write(json.dumps(sample, ensure_ascii=False) + "\n")
            count += 1
    temporary.replace(path)  # a half-written file never carries the final name
    return count


def convert_task(name, output_dir):
    from datasets import load_dataset  # imported here so --self-test runs without it

    hub_name, revision, split = TASKS[name]
    rows = load_dataset(hub_name, revision=revision, split=split)
    path = output_dir / f"{name}.{split}.jsonl"
    count = write_jsonl(convert_rows(rows), path)
    print(f"{name}: {count} samples from {hub_name}@{revision[:8]} ({split}) -> {path}")


def self_test():
    rows = [
        {"query": "高血压能喝咖啡吗", "positive": ["建议少量饮用"], "negative": ["多吃苹果", "早点睡觉"]},
        {"query": "q2", "positive": [], "negative": ["n"], "extra": 1},
    ]
    samples = list(convert_rows(rows))
    assert samples == [
        {"query": "高血压能喝咖啡吗", "positive": ["建议少量饮用"], "negative": ["多吃苹果", "早点睡觉"]},
        {"query": "q2", "positive": [], "negative": ["n"]},
    ], samples
    for bad in ({"query": 1, "positive": [], "negative": []}, {"query": "q", "positive": "p", "negative": []},
                {"query": "q", "positive": ["p"]}, {"query": "q", "positive": ["p"], "negative": [None]}):
        try:
            convert_row(bad, 0)
        except ConversionError:
            continue
        raise AssertionError(f"accepted a bad row: {bad}")
    import tempfile
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "T.test.jsonl"
        assert write_jsonl(iter(samples), path) == 2
        lines = path.read_text(encoding="utf-8").split("\n")
        assert lines[-1] == "" and [json.loads(line) for line in lines[:-1]] == samples, lines
        assert "高血压" in lines[0]  # not \\u-escaped
    print("self-test passed")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tasks", nargs="*", metavar="TASK", help=f"tasks to convert (default: all of {', '.join(TASKS)})")
    parser.add_argument("--output-dir", type=Path, default=Path("."), help="where to write TASK.SPLIT.jsonl")
    parser.add_argument("--self-test", action="store_true", help="check the conversion offline and exit")
    arguments = parser.parse_args()
    if arguments.self_test:
        self_test()
        return
    unknown = [task for task in arguments.tasks if task not in TASKS]
    if unknown:
        parser.error(f"unknown task(s) {', '.join(unknown)}; known: {', '.join(TASKS)}")
    arguments.output_dir.mkdir(parents=True, exist_ok=True)
    for task in arguments.tasks or list(TASKS):
        convert_task(task, arguments.output_dir)


if __name__ == "__main__":
    sys.exit(main())
