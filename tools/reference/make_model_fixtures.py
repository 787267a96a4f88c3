"""Writes random ListConRanker checkpoints in the official file layout, and JSON goldens
computed by the PyTorch reference (listconranker_reference.py).

  python tools/reference/make_model_fixtures.py fixtures   # tiny models + goldens (committed)
  python tools/reference/make_model_fixtures.py full DIR   # full-size random model (benchmarks; never commit)
  python tools/reference/make_model_fixtures.py m3e-shape DIR  # m3e-small's shape, full-size head (benchmarks)
  python tools/reference/make_model_fixtures.py embeddings # goldens for the real m3e-small / MiniLM (.models/)

The tiny model keeps every structural feature of the real one (BERT encoder with absolute
positions up to 512, a 2-layer ListTransformer, the unused template-layer copy in
list_transformer.pt) at widths small enough to commit.
"""
import json
import os
import random
import shutil
import sys

import torch
from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel

sys.path.insert(0, os.path.dirname(__file__))
from listconranker_reference import ListConRankerReference, Reranker  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "ListConRankerTests", "Fixtures")
M3E = os.path.join(ROOT, ".models", "m3e-small")
MINILM = os.path.join(ROOT, ".models", "all-MiniLM-L6-v2")


def chinese_vocab(limit=None):
    """The 21128-entry Chinese BERT vocabulary ListConRanker uses (m3e-small ships it)."""
    vocab = json.load(open(os.path.join(M3E, "tokenizer.json"), encoding="utf-8"))["model"]["vocab"]
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    return tokens[:limit] if limit else tokens


def randomize(module, std, seed):
    """Wider-than-default random weights so scores spread out and tests discriminate."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("LayerNorm.weight") or name.endswith("layerNorm.weight") or ".norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))


def write_model(directory, hidden, layers, heads, intermediate, vocab_tokens, list_width, list_ffn,
                seed, encoder_format="safetensors", bert_prefix=False, std=0.2, list_std=None):
    os.makedirs(directory, exist_ok=True)
    config = BertConfig(vocab_size=len(vocab_tokens), hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=intermediate,
                        max_position_embeddings=512, type_vocab_size=2, hidden_act="gelu",
                        layer_norm_eps=1e-12)
    torch.manual_seed(seed)
    bert = BertModel(config, add_pooling_layer=True)
    randomize(bert, std, seed)
    model = ListConRankerReference(bert, 2, list_width, list_ffn)
    randomize(model.linear_in_embedding, list_std or std, seed + 1)
    randomize(model.list_transformer, list_std or std, seed + 2)
    if encoder_format == "safetensors":
        bert.save_pretrained(directory, safe_serialization=True)
    else:
        state = bert.state_dict()
        if bert_prefix:
            state = {f"bert.{k}": v for k, v in state.items()}
        config.save_pretrained(directory)
        torch.save(state, os.path.join(directory, "pytorch_model.bin"))
    torch.save(model.linear_in_embedding.state_dict(), os.path.join(directory, "linear_in_embedding.pt"))
    torch.save(model.list_transformer.state_dict(), os.path.join(directory, "list_transformer.pt"))
    with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab_tokens) + "\n")
    json.dump({"do_lower_case": True, "tokenizer_class": "BertTokenizer", "model_max_length": 512,
               "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
               "mask_token": "[MASK]", "tokenize_chinese_chars": True, "strip_accents": None},
              open(os.path.join(directory, "tokenizer_config.json"), "w"), indent=2)
    json.dump({"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
               "mask_token": "[MASK]"}, open(os.path.join(directory, "special_tokens_map.json"), "w"), indent=2)


SENTENCE_PARTS = ["今天天气很好", "我们去公园散步", "机器学习模型", "文本重排序", "北京是中国的首都", "这个问题怎么解决",
                  "高血压患者应该注意饮食", "请问感冒了吃什么药", "深度学习需要大量数据", "上海的房价很高",
                  "如何学习编程", "苹果和香蕉都是水果", "他在图书馆看书", "Python 是一种编程语言", "数据库索引的原理",
                  "糖尿病的早期症状", "明天会下雨吗", "搜索引擎如何排序结果", "推荐一部好看的电影", "ListConRanker 模型"]


def sentence(rng, parts=2):
    return "，".join(rng.choice(SENTENCE_PARTS) for _ in range(parts)) + rng.choice(["。", "？", "！", ""])


def f32(values):
    return [float(v) for v in values]


def make_fixtures():
    rng = random.Random(7)
    vocab = chinese_vocab(10000)
    tiny = os.path.join(FIXTURES, "tiny-model")
    tiny_bin = os.path.join(FIXTURES, "tiny-model-bin")
    for d in (tiny, tiny_bin):
        shutil.rmtree(d, ignore_errors=True)
    common = dict(hidden=16, layers=2, heads=4, intermediate=32, vocab_tokens=vocab, list_width=24, list_ffn=40)
    write_model(tiny, seed=11, **common)
    write_model(tiny_bin, seed=23, encoder_format="bin", bert_prefix=True, **common)

    query = "高血压患者应该注意什么？"
    long_text = "".join(sentence(rng, 3) for _ in range(40))  # > 512 tokens: truncated
    one_list = [query] + [sentence(rng) for _ in range(8)] + [long_text]
    batch = [
        one_list,
        ["如何学习编程"] + [sentence(rng, 1) for _ in range(3)],
        ["明天会下雨吗"] + [sentence(rng, 3)],                      # a list with one passage
        ["搜索引擎 ranking"] + [sentence(rng) for _ in range(13)],
    ]
    base = [sentence(rng) for _ in range(38)]
    iterative = ["推荐一部好看的电影"] + base + base[:4] + [base[10]] * 3  # 45 passages, duplicates tie
    assert len(iterative) == 46

    goldens = {}
    for name, directory in (("tiny-model", tiny), ("tiny-model-bin", tiny_bin)):
        ranker = Reranker(directory)
        texts = [t for l in batch for t in l]
        enc = ranker.tokenize(texts)
        with torch.no_grad():
            pooled = ranker.model.encode(enc["input_ids"], enc["attention_mask"])
            features = ranker.model.linear_in_embedding(pooled)
        ids = [[int(i) for i, m in zip(row, mask) if m] for row, mask in zip(enc["input_ids"], enc["attention_mask"])]
        ranker.encoder_texts = 0
        conventional = ranker.compute_score(batch)
        raw = ranker.compute_score(batch, raw=True)
        single = [ranker.compute_score([l])[0] for l in batch]
        ranker.encoder_texts = 0
        iter_scores = ranker.iterative_inference(iterative)
        iter_work = ranker.encoder_texts
        short_max = ranker.compute_score(batch[:1], max_length=16)[0]
        goldens[name] = {
            "lists": batch,
            "input_ids": ids,
            "pooled": [f32(r) for r in pooled.tolist()],
            "features": [f32(r) for r in features.tolist()],
            "scores": conventional,
            "logits": raw,
            "scores_each_list_alone": single,
            "scores_max_length_16": short_max,
            "iterative_list": iterative,
            "iterative_scores": iter_scores,
            "iterative_conventional_scores": ranker.compute_score([iterative])[0],
            "iterative_reference_encoder_texts": iter_work,
        }
    json.dump(goldens, open(os.path.join(FIXTURES, "model-goldens.json"), "w", encoding="utf-8"), ensure_ascii=False)
    print("wrote tiny models and", os.path.join(FIXTURES, "model-goldens.json"))


def make_full(directory):
    write_model(directory, hidden=1024, layers=24, heads=16, intermediate=4096, vocab_tokens=chinese_vocab(),
                list_width=1792, list_ffn=2048, seed=5, std=0.02, list_std=0.02)
    print("wrote full-size random ListConRanker to", directory)



def make_m3e_shape(directory):
    """m3e-small's encoder shape (4 layers, hidden 512, 8 heads) under the published head's width,
    random: the small stage-2 speed case (issue 30's "m3e-small shape")."""
    write_model(directory, hidden=512, layers=4, heads=8, intermediate=2048, vocab_tokens=chinese_vocab(),
                list_width=1792, list_ffn=2048, seed=6, std=0.02, list_std=0.02)
    print("wrote m3e-small-shaped random ListConRanker to", directory)

EMBED_SENTENCES_ZH = None


def embedding_sentences(lang):
    rng = random.Random(3 if lang == "zh" else 4)
    if lang == "zh":
        out = [sentence(rng, rng.randint(1, 4)) for _ in range(48)]
        out += ["", "ＡＢＣ全角字符１２３和繁體中文測試。", "a" * 600]
    else:
        words = ("the quick brown fox jumps over lazy dog search engine ranking model passage query "
                 "Swift language neural network café naïve résumé ÅNGSTRÖM tokenization 2024 https://example.com").split()
        out = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 30))) for _ in range(48)]
        out += ["", "Hello, World! How's it going?", "word " * 400]
    return out


def make_embedding_goldens():
    result = {}
    for name, directory, lang in (("m3e-small", M3E, "zh"), ("all-MiniLM-L6-v2", MINILM, "en")):
        tok = AutoTokenizer.from_pretrained(directory)
        model = AutoModel.from_pretrained(directory, attn_implementation="eager").eval()
        sentences = embedding_sentences(lang)
        enc = tok(sentences, padding=True, truncation=True, max_length=512, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**enc).last_hidden_state
            pooled = ListConRankerReference.mean_pool(hidden, enc["attention_mask"])
        ids = [[int(i) for i, m in zip(row, mask) if m] for row, mask in zip(enc["input_ids"], enc["attention_mask"])]
        result[name] = {"sentences": sentences, "input_ids": ids,
                        "embeddings": [[round(float(v), 7) for v in row] for row in pooled.tolist()]}
    json.dump(result, open(os.path.join(FIXTURES, "embedding-goldens.json"), "w", encoding="utf-8"), ensure_ascii=False)
    print("wrote", os.path.join(FIXTURES, "embedding-goldens.json"))


if __name__ == "__main__":
    torch.set_num_threads(2)
    what = sys.argv[1] if len(sys.argv) > 1 else "fixtures"
    if what == "fixtures":
        make_fixtures()
    elif what == "full":
        make_full(sys.argv[2])
    elif what == "m3e-shape":
        make_m3e_shape(sys.argv[2])
    elif what == "embeddings":
        make_embedding_goldens()
    else:
        sys.exit(__doc__)
