#!/usr/bin/env python3
"""Reference data for the Swift BERT tokenizer (Sources/ListConRanker/Tokenizer).

Three jobs, all deterministic:

  --tables   Probes the Rust `tokenizers` BertNormalizer and BertPreTokenizer on every Unicode scalar
             and writes Sources/ListConRanker/Tokenizer/BertUnicodeTables.swift. The Rust crate uses
             its own (partly old) Unicode tables, so Swift pins exactly what the reference does instead
             of trusting the Swift standard library's Unicode version.
  --corpus   Writes the seeded test corpus Tests/ListConRankerTests/Fixtures/tokenizer/corpus.jsonl
             (one JSON string per line, so texts can hold newlines) and the fixture vocabulary
             directory zh-lower/ (m3e-small's vocabulary as vocab.txt, do_lower_case true).
  --goldens  Encodes the corpus with transformers' AutoTokenizer (the Rust-backed fast tokenizer,
             max_length 512, truncation on) and writes one JSON id array per corpus line:
               zh-lower.ids  vocab.txt fixture and m3e-small's tokenizer.json with do_lower_case true
               zh-cased.ids  vocab.txt fixture and m3e-small itself (do_lower_case false)
               en-lower.ids  all-MiniLM-L6-v2 (tokenizer.json) and its vocab.txt alone
             Every pair of directories sharing a golden is checked to agree before anything is written.

Run from the repository root after tools/fetch-test-models.sh:
  python3 tools/reference/make_tokenizer_goldens.py --tables --corpus --goldens
"""

import argparse
import json
import os
import random
import shutil
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(REPO, "Tests", "ListConRankerTests", "Fixtures", "tokenizer")
TABLES_SWIFT = os.path.join(REPO, "Sources", "ListConRanker", "Tokenizer", "BertUnicodeTables.swift")
M3E = os.path.join(REPO, ".models", "m3e-small")
MINILM = os.path.join(REPO, ".models", "all-MiniLM-L6-v2")
MAX_LENGTH = 512
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3


# ----------------------------------------------------------------------------------------------
# Unicode tables, probed from the Rust implementation.

def scalars():
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        yield cp


def to_ranges(code_points):
    ranges = []
    for cp in sorted(code_points):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return ranges


def probe_tables():
    from tokenizers import normalizers, pre_tokenizers

    bert = normalizers.BertNormalizer
    clean = bert(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    chinese = bert(clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    strip = bert(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    lower = bert(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    tables = {"removed": [], "clean_space": [], "chinese": [], "punctuation": [], "split_space": [],
              "strip": {}, "lower": {}}
    for cp in scalars():
        c = chr(cp)
        cleaned = clean.normalize_str(c)
        if cleaned == "":
            tables["removed"].append(cp)
        elif cleaned == " ":
            tables["clean_space"].append(cp)
        else:
            assert cleaned == c, hex(cp)
        isolated = chinese.normalize_str(c)
        if isolated == " " + c + " ":
            tables["chinese"].append(cp)
        else:
            assert isolated == c, hex(cp)
        stripped = strip.normalize_str(c)
        if stripped != c:
            tables["strip"][cp] = [ord(x) for x in stripped]
        lowered = lower.normalize_str(c)
        if lowered != c:
            tables["lower"][cp] = [ord(x) for x in lowered]
        words = [w for w, _ in pre.pre_tokenize_str("a" + c + "b")]
        if words == ["a", c, "b"]:
            tables["punctuation"].append(cp)
        elif words == ["a", "b"]:
            tables["split_space"].append(cp)
        else:
            assert words == ["a" + c + "b"], (hex(cp), words)
    # Hangul syllables decompose algorithmically (Unicode ch. 3.12); check, then leave them out.
    for cp in range(HANGUL_FIRST, HANGUL_LAST + 1):
        index = cp - HANGUL_FIRST
        expected = [0x1100 + index // 588, 0x1161 + (index % 588) // 28]
        if index % 28:
            expected.append(0x11A7 + index % 28)
        assert tables["strip"].pop(cp) == expected, hex(cp)
    return tables


def swift_array(name, values, doc, element="UInt32", per_line=10):
    lines = [f"    /// {doc}", f"    static let {name}: [{element}] = ["]
    for start in range(0, len(values), per_line):
        chunk = values[start:start + per_line]
        lines.append("        " + ", ".join(f"0x{v:X}" for v in chunk) + ",")
    lines.append("    ]")
    return "\n".join(lines)


def swift_mapping(prefix, mapping, what):
    keys = sorted(mapping)
    starts, values = [0], []
    for key in keys:
        values.extend(mapping[key])
        starts.append(len(values))
    return "\n\n".join([
        swift_array(f"{prefix}Keys", keys, f"Scalars that {what}, ascending."),
        swift_array(f"{prefix}Starts", starts,
                    f"`{prefix}Values[{prefix}Starts[i]..<{prefix}Starts[i + 1]]` is what `{prefix}Keys[i]` becomes.",
                    element="UInt16"),
        swift_array(f"{prefix}Values", values, f"Replacement scalars for `{prefix}Keys`, concatenated."),
    ])


def write_tables():
    import tokenizers

    tables = probe_tables()
    parts = [
        "// GENERATED by tools/reference/make_tokenizer_goldens.py --tables from Hugging Face",
        f"// tokenizers {tokenizers.__version__} (BertNormalizer, BertPreTokenizer). Do not edit by hand.",
        "//",
        "// The Rust crate classifies characters with its own Unicode tables (some from an old Unicode",
        "// version), so these are probed from it scalar by scalar instead of taken from Swift's stdlib.",
        "",
        "/// Character classes and mappings of Hugging Face's BERT normalizer and pre-tokenizer.",
        "enum BertUnicodeTables {",
    ]
    body = []
    for name, key, doc in [
        ("removedRanges", "removed", "Inclusive ranges `[first, last, ...]` that text cleaning drops (controls, format, private use, NUL, U+FFFD)."),
        ("cleanWhitespaceRanges", "clean_space", "Inclusive ranges that text cleaning turns into a space."),
        ("chineseRanges", "chinese", "Inclusive ranges of CJK ideographs that are split into single-character words."),
        ("punctuationRanges", "punctuation", "Inclusive ranges the pre-tokenizer isolates as punctuation."),
        ("splitWhitespaceRanges", "split_space", "Inclusive ranges the pre-tokenizer splits words on (and drops)."),
    ]:
        flat = [v for pair in to_ranges(tables[key]) for v in pair]
        body.append(swift_array(name, flat, doc))
    body.append(swift_mapping("strip", tables["strip"],
                              "accent stripping (NFD, then dropping nonspacing marks) changes, Hangul syllables excepted"))
    body.append(swift_mapping("lower", tables["lower"], "lower-casing changes"))
    parts.append("\n\n".join(body))
    parts.append("}")
    with open(TABLES_SWIFT, "w", encoding="utf-8") as handle:
        handle.write("\n".join(parts) + "\n")
    print(f"wrote {TABLES_SWIFT}")


# ----------------------------------------------------------------------------------------------
# Corpus.

ZH_SIMPLIFIED = "我们今天去北京大学图书馆看书这个问题很难回答请把文件发给我谢谢机器学习模型的训练需要大量数据人工智能正在改变世界"
ZH_TRADITIONAL = "這個問題很難回答請把檔案發給我謝謝機器學習模型的訓練需要大量資料人工智慧正在改變世界臺灣繁體中文鬱龜齒"
FULL_WIDTH = "，。！？；：「」『』（）【】《》〈〉、…—～·０１２３４５６７８９ＡＢＣａｂｃ％＃＠＆＊＋－＝／＼｜"
ENGLISH = ["The", "quick", "Brown", "FOX", "jumps", "over", "the", "lazy", "dog", "iPhone", "McDonald's",
           "don't", "U.S.A.", "e-mail", "Transformer", "BERT", "reranking", "ListConRanker", "NASA",
           "unbelievable", "antidisestablishmentarianism", "Hello", "WORLD", "naïve", "café", "résumé"]
ACCENTED = ["café", "naïve", "Ångström", "Ærøskøbing", "São Paulo", "Zürich", "Crème Brûlée", "Façade",
            "Œuvre", "ÉCOLE", "İstanbul", "straße", "STRASSE", "ΣΊΣΥΦΟΣ", "Ελληνικά", "Москва", "Ёлка",
            "Dvořák", "Łódź", "Škoda", "Nguyễn Văn", "ﬁnance", "ﬀ", "Ｔｏｋｙｏ", "ⅫⅣ", "Ꭰꭰ", "ᲐᲑᲒ", "ǅungla"]
KANA = "ひらがなカタカナこんにちは世界ありがとうございますｶﾀｶﾅﾞﾟーッ"
KOREAN = ["안녕하세요", "한국어", "서울특별시", "감사합니다", "ᄀᄁᄂ", "ㄱㄴㄷ"]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇨🇳", "🇺🇸", "🧑‍💻", "🥹", "🫠", "🪿", "✅", "☕", "🀄", "©", "™"]
ARABIC_HEBREW = ["مرحبا بالعالم", "اللُّغَةُ الْعَرَبِيَّةُ", "١٢٣٤٥", "שָׁלוֹם עולם", "עברית", "؟،؛"]
ODD_SPACE = ["\t", "\u00a0", "\u3000", "\u2002", "\u2003", "\u2009", "\u200a", "\u202f", "\u205f", "\u1680",
             "\u2028", "\u2029", "\u000b", "\u000c", "\u0085", "\r\n", "\n", "\r", "\u200b", "\u180e", "\ufeff"]
CONTROLS = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\u0080", "\u009f", "\u00ad", "\u200d", "\u200e", "\u2066",
            "\ufffd", "\ue000", "\U000f0000", "\U0010fffd", "\ufff9", "\U000e0001", "\u0378", "\U0003134b"]
SPECIAL = ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[mask]", "[ MASK ]", "[MASK][MASK]", "x[MASK]y"]
RARE = ["\u166d", "\U000111c9", "\u2e52", "\u061d", "\u1fef", "\u0130", "\u2f00", "\uf900", "\U0002f800",
        "\U0002b820", "\U0002b91f", "\U00030000", "\U00031350", "\u3400", "\U0002a700", "\u2e80",
        "\u0344", "\u1d165", "\U0001d165\U0001d16e", "e\u0301\u0316", "a\u0315\u0300\u05ae", "\u0958",
        "\u2126", "\u212b", "\u1e9e", "\u03a3\u03c3\u03c2", "\u0149", "\u01f0", "\u1e96", "\u0587"]
NUMBERS_URLS = ["3.14159", "1,000,000", "2024-06-01", "12:30:45", "$9.99", "50%", "+86 138-0013-8000",
                "https://example.com/path?q=1&lang=zh-CN#frag", "http://例子.测试/路径", "user@example.org",
                "C:\\Users\\test\\file.txt", "v1.2.3-beta+exp.sha.5114f85", "0x7FFF", "1e-9", "№5", "²³",
                "½", "Ⅷ", "𝟘𝟙𝟚", "٣٤", "१२३"]


def random_word(rng):
    choice = rng.random()
    if choice < 0.3:
        return rng.choice(ENGLISH)
    if choice < 0.45:
        return rng.choice(ACCENTED)
    if choice < 0.6:
        return "".join(rng.choice(ZH_SIMPLIFIED) for _ in range(rng.randint(1, 6)))
    if choice < 0.7:
        return "".join(rng.choice(ZH_TRADITIONAL) for _ in range(rng.randint(1, 6)))
    if choice < 0.75:
        return "".join(rng.choice(KANA) for _ in range(rng.randint(1, 5)))
    if choice < 0.8:
        return rng.choice(KOREAN)
    if choice < 0.85:
        return rng.choice(NUMBERS_URLS)
    if choice < 0.9:
        return rng.choice(EMOJI)
    if choice < 0.95:
        return rng.choice(ARABIC_HEBREW)
    return rng.choice(FULL_WIDTH)


def random_scalar(rng):
    # Mostly assigned, interesting blocks; sometimes anywhere (unassigned and private use included).
    blocks = [(0x20, 0x7E), (0xA0, 0x24F), (0x250, 0x36F), (0x370, 0x52F), (0x590, 0x6FF), (0x900, 0x97F),
              (0xE00, 0xE7F), (0x1000, 0x10FF), (0x10A0, 0x10FF), (0x13A0, 0x13FF), (0x1AB0, 0x1AFF),
              (0x1C80, 0x1CBF), (0x1D00, 0x1DFF), (0x1E00, 0x1FFF), (0x2000, 0x2BFF), (0x2C00, 0x2E7F),
              (0x2E80, 0x2FDF), (0x3000, 0x30FF), (0x3100, 0x33FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
              (0xA640, 0xA6FF), (0xA700, 0xA7FF), (0xAB70, 0xABBF), (0xAC00, 0xD7FF), (0xE000, 0xE0FF),
              (0xF900, 0xFAFF), (0xFB00, 0xFB4F), (0xFE00, 0xFE6F), (0xFF00, 0xFFFF), (0x10400, 0x1044F),
              (0x104B0, 0x104FF), (0x10570, 0x105BF), (0x10C80, 0x10CFF), (0x11000, 0x1124F),
              (0x16E40, 0x16E9F), (0x1D400, 0x1D7FF), (0x1E900, 0x1E95F), (0x1F000, 0x1FAFF),
              (0x20000, 0x2FA1F), (0x30000, 0x323AF), (0xE0000, 0xE01EF)]
    if rng.random() < 0.05:
        cp = rng.randint(0x80, 0x10FFFF)
    else:
        low, high = rng.choice(blocks)
        cp = rng.randint(low, high)
    if 0xD800 <= cp <= 0xDFFF:
        cp = 0x20
    return chr(cp)


def make_line(rng, kind):
    if kind == "mixed":
        words = [random_word(rng) for _ in range(rng.randint(1, 25))]
        separators = [" "] * 8 + ["", ",", "。", " - ", "，", rng.choice(ODD_SPACE)]
        return "".join(w + rng.choice(separators) for w in words).strip(" ")
    if kind == "scalars":
        return "".join(random_scalar(rng) if rng.random() < 0.8 else " " for _ in range(rng.randint(1, 60)))
    if kind == "odd":
        pool = ODD_SPACE + CONTROLS + SPECIAL + RARE
        return "".join(rng.choice(pool) + (random_word(rng) if rng.random() < 0.6 else "")
                       for _ in range(rng.randint(1, 12)))
    if kind == "long_word":
        alphabet = rng.choice(["abcdefghij", "ab", "中文", "é", "ab1", "a\u0301"])
        length = rng.choice([99, 100, 101, 150, 250])
        word = "".join(rng.choice(alphabet) for _ in range(length))
        return rng.choice(ENGLISH) + " " + word + " " + rng.choice(ENGLISH)
    if kind == "unk":
        return " ".join(rng.choice(["\u2603snow", "xqzjv", "ⓐⓑⓒ", "ᚠᚢᚦ", "ꙮꙮ", "𓀀𓀁", "ǂǃ", "aͣ", "Ꙁ", "qwz\u0e01"])
                        for _ in range(rng.randint(1, 6)))
    if kind == "long_text":
        length = rng.randint(300, 1400)
        return "".join(random_word(rng) + rng.choice([" ", "", "，", ". "]) for _ in range(length // 2))
    raise ValueError(kind)


def corpus_lines():
    rng = random.Random(20240611)
    lines = ["", " ", "\t\n", "[CLS]", "[MASK]", "Hello, World!", "我爱北京天安门", "ÅNGSTRÖM café naïve"]
    lines += SPECIAL + RARE + CONTROLS + ODD_SPACE + NUMBERS_URLS + EMOJI + ACCENTED + KOREAN + ARABIC_HEBREW
    plan = ["mixed"] * 1300 + ["scalars"] * 400 + ["odd"] * 250 + ["long_word"] * 40 + ["unk"] * 60 + ["long_text"] * 30
    for kind in plan:
        lines.append(make_line(rng, kind))
    return lines


def vocab_from_tokenizer_json(path):
    with open(path, encoding="utf-8") as handle:
        vocab = json.load(handle)["model"]["vocab"]
    ordered = sorted(vocab.items(), key=lambda item: item[1])
    assert [index for _, index in ordered] == list(range(len(ordered)))
    return [token for token, _ in ordered]


def write_corpus():
    os.makedirs(FIXTURES, exist_ok=True)
    lines = corpus_lines()
    with open(os.path.join(FIXTURES, "corpus.jsonl"), "w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"wrote {len(lines)} corpus lines")
    directory = os.path.join(FIXTURES, "zh-lower")
    os.makedirs(directory, exist_ok=True)
    tokens = vocab_from_tokenizer_json(os.path.join(M3E, "tokenizer.json"))
    with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8", newline="\n") as handle:
        handle.write("".join(token + "\n" for token in tokens))
    config = {"do_lower_case": True, "strip_accents": None, "tokenize_chinese_chars": True,
              "model_max_length": 512, "tokenizer_class": "BertTokenizer", "unk_token": "[UNK]",
              "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=2)
        handle.write("\n")
    shutil.copy(os.path.join(M3E, "special_tokens_map.json"), directory)


# ----------------------------------------------------------------------------------------------
# Goldens.

def read_corpus():
    with open(os.path.join(FIXTURES, "corpus.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def encode_all(directory, texts):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    assert tokenizer.is_fast, directory
    return [tokenizer(text, truncation=True, max_length=MAX_LENGTH)["input_ids"] for text in texts]


def variant(files, config, scratch, name):
    """A scratch model directory holding `files` and, if given, a tokenizer_config.json."""
    directory = os.path.join(scratch, name)
    os.makedirs(directory)
    for path in files:
        shutil.copy(path, directory)
    if config is not None:
        with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as handle:
            json.dump(config, handle)
    return directory


def write_goldens():
    texts = read_corpus()
    zh_vocab = os.path.join(FIXTURES, "zh-lower", "vocab.txt")
    en_vocab = os.path.join(MINILM, "vocab.txt")
    with tempfile.TemporaryDirectory() as scratch:
        lower = {"tokenizer_class": "BertTokenizer", "do_lower_case": True}
        cased = {"tokenizer_class": "BertTokenizer", "do_lower_case": False}
        groups = {
            "zh-lower": [os.path.join(FIXTURES, "zh-lower"),
                         variant([os.path.join(M3E, "tokenizer.json")], lower, scratch, "zh-json-lower")],
            "zh-cased": [M3E, variant([zh_vocab], cased, scratch, "zh-vocab-cased")],
            "en-lower": [MINILM, variant([en_vocab], lower, scratch, "en-vocab-lower")],
        }
        for name, directories in groups.items():
            results = [encode_all(directory, texts) for directory in directories]
            for other, directory in zip(results[1:], directories[1:]):
                mismatches = [i for i, (a, b) in enumerate(zip(results[0], other)) if a != b]
                assert not mismatches, f"{name}: {directory} differs on corpus lines {mismatches[:10]}"
            with open(os.path.join(FIXTURES, f"{name}.ids"), "w", encoding="utf-8") as handle:
                for ids in results[0]:
                    handle.write(json.dumps(ids, separators=(",", ":")) + "\n")
            longest = max(len(ids) for ids in results[0])
            print(f"wrote {name}.ids ({len(texts)} lines, longest {longest} ids)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", action="store_true")
    parser.add_argument("--corpus", action="store_true")
    parser.add_argument("--goldens", action="store_true")
    args = parser.parse_args()
    if not (args.tables or args.corpus or args.goldens):
        parser.error("nothing to do: pass --tables, --corpus and/or --goldens")
    if args.tables:
        write_tables()
    if args.corpus:
        write_corpus()
    if args.goldens:
        write_goldens()


if __name__ == "__main__":
    sys.exit(main())
