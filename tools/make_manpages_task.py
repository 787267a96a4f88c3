#!/usr/bin/env python3
"""Builds a real-text reranking task from Debian's manpages-zh (DESIGN.md §8).

query     = a page's one-line NAME description (the text after "\\-" in .SH 名称/NAME);
positives = paragraphs of the page's DESCRIPTION (.SH 描述/DESCRIPTION) section;
negatives = paragraphs of other pages: some from pages whose description shares character
            bigrams with the query (hard negatives), the rest drawn at random.
The split into train and dev is by page, seeded. Output: two JSON-lines files in the eval
format ({"query", "positive", "negative"}). The extracted text is never committed.

Source: /usr/share/man/zh_CN if present, else `apt-get download manpages-zh` and
`dpkg-deb -x manpages-zh_*.deb DIR`, then --root DIR/usr/share/man/zh_CN.

    python3 tools/make_manpages_task.py --out /tmp/manpages --seed 13
"""
import argparse
import gzip
import json
import os
import random
import re
import sys

NAME_HEADINGS = {"名称", "名字", "NAME", "名称 NAME", "NAME 名称", "名 称"}
DESCRIPTION_HEADINGS = {"描述", "说明", "DESCRIPTION", "描述 DESCRIPTION", "DESCRIPTION 描述", "描 述", "详细说明"}
PARAGRAPH_MACROS = {".PP", ".P", ".LP", ".TP", ".IP", ".HP", ".sp", ".br", ".RS", ".RE", ".TQ"}


def clean(line):
    """Drops troff font and escape sequences, keeps the text."""
    line = re.sub(r"\\f[BIRPC]|\\f\(..|\\f\[[^\]]*\]", "", line)
    line = line.replace("\\-", "-").replace("\\,", "").replace("\\/", "").replace("\\&", "").replace("\\ ", " ")
    line = re.sub(r"\\\*\(..|\\\*.|\\\(..|\\e", "", line)
    line = re.sub(r'^\.(B|I|BI|IB|BR|RB|IR|RI|SM|SB)\s+', "", line)
    return line.replace('"', "").strip()


def parse(text):
    """(description, [paragraphs]) of one page, or None."""
    sections, current = {}, None
    for raw in text.splitlines():
        if raw.startswith('.\\"') or raw.startswith("'\\\""):
            continue
        if raw.startswith(".SH"):
            current = raw[3:].strip().strip('"').strip()
            sections.setdefault(current, [])
            continue
        if current is not None:
            sections[current].append(raw)
    name = next((sections[h] for h in sections if h in NAME_HEADINGS or h.upper() == "NAME"), None)
    body = next((sections[h] for h in sections if h in DESCRIPTION_HEADINGS or h.upper() == "DESCRIPTION"), None)
    if not name or not body:
        return None
    name_text = " ".join(clean(l) for l in name if not l.startswith(".") or l.startswith((".B ", ".I ")))
    if " - " not in name_text:
        return None
    description = name_text.split(" - ", 1)[1].strip()
    paragraphs, current_lines = [], []
    for line in body:
        macro = line.split()[0] if line.strip() else ""
        if macro in PARAGRAPH_MACROS or not line.strip():
            if current_lines:
                paragraphs.append(" ".join(current_lines))
            current_lines = []
            continue
        if line.startswith(".") and not re.match(r"^\.(B|I|BI|IB|BR|RB|IR|RI)\s", line):
            continue
        cleaned = clean(line)
        if cleaned:
            current_lines.append(cleaned)
    if current_lines:
        paragraphs.append(" ".join(current_lines))
    # Paragraphs with some Chinese and some length; long ones cut (the encoder truncates anyway).
    paragraphs = [p[:300] for p in paragraphs if len(p) >= 15 and re.search(r"[\u4e00-\u9fff]", p)]
    if len(description) < 2 or not paragraphs:
        return None
    return description, paragraphs


def bigrams(text):
    chars = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    return {a + b for a, b in zip(chars, chars[1:])}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="/usr/share/man/zh_CN")
    parser.add_argument("--out", required=True, help="folder for train.jsonl and dev.jsonl")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--dev-fraction", type=float, default=0.2)
    parser.add_argument("--max-positives", type=int, default=6, help="most DESCRIPTION paragraphs kept per page")
    parser.add_argument("--negatives", type=int, default=20, help="negatives per query")
    parser.add_argument("--hard", type=int, default=8, help="of which from pages sharing bigrams with the query")
    parser.add_argument("--max-pages", type=int, default=0, help="keep at most this many pages (0: all)")
    args = parser.parse_args()
    if not os.path.isdir(args.root):
        sys.exit(f"{args.root} not found: apt-get download manpages-zh && dpkg-deb -x manpages-zh_*.deb DIR, then --root DIR/usr/share/man/zh_CN")

    pages = {}
    for folder, _, files in os.walk(args.root):
        for name in sorted(files):
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            try:
                raw = gzip.open(path).read() if name.endswith(".gz") else open(path, "rb").read()
                parsed = parse(raw.decode("utf-8", errors="replace"))
            except (OSError, EOFError):
                continue
            if parsed and parsed[0] not in {p[0] for p in pages.values()}:
                pages[os.path.relpath(path, args.root)] = parsed
    # Paragraphs several pages share ("--help 显示此帮助信息并退出") say nothing about a page: drop them.
    counts = {}
    for _, paragraphs in pages.values():
        for paragraph in set(paragraphs):
            counts[paragraph] = counts.get(paragraph, 0) + 1
    pages = {k: (d, [p for p in ps if counts[p] == 1]) for k, (d, ps) in pages.items()}
    pages = {k: v for k, v in pages.items() if v[1]}
    keys = sorted(pages)
    rng = random.Random(args.seed)
    rng.shuffle(keys)
    if args.max_pages:
        keys = keys[:args.max_pages]
    grams = {k: bigrams(pages[k][0]) for k in keys}
    dev_count = int(round(len(keys) * args.dev_fraction))
    splits = {"dev": keys[:dev_count], "train": keys[dev_count:]}
    os.makedirs(args.out, exist_ok=True)
    for split, members in splits.items():
        # Negatives come from pages of the same split, so no dev passage is seen in training.
        with open(os.path.join(args.out, f"{split}.jsonl"), "w", encoding="utf-8") as out:
            for key in members:
                description, paragraphs = pages[key]
                others = [k for k in members if k != key]
                sharing = sorted(others, key=lambda k: (-len(grams[key] & grams[k]), k))
                hard_pages = [k for k in sharing if grams[key] & grams[k]][:args.hard * 2]
                negatives = []
                for k in rng.sample(hard_pages, min(args.hard, len(hard_pages))):
                    negatives.append(rng.choice(pages[k][1]))
                while len(negatives) < args.negatives and others:
                    negatives.append(rng.choice(pages[rng.choice(others)][1]))
                positives = paragraphs[:args.max_positives]
                negatives = [n for n in dict.fromkeys(negatives) if n not in positives]
                out.write(json.dumps({"query": description, "positive": positives, "negative": negatives},
                                     ensure_ascii=False) + "\n")
        print(f"{split}: {len(members)} queries", file=sys.stderr)


if __name__ == "__main__":
    main()
