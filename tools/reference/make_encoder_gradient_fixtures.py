"""Goldens for training stage 2 (the BERT encoder's backward pass), computed by PyTorch autograd
on transformers' BertModel, for the Swift encoder backward (Sources/ListConRankerTraining/Encoder)
to match.

  python tools/reference/make_encoder_gradient_fixtures.py tiny   # encoder-gradient-goldens.json (committed)
  python tools/reference/make_encoder_gradient_fixtures.py m3e    # encoder-gradient-m3e-small.json (committed)
  python tools/reference/make_encoder_gradient_fixtures.py m3e-full OUT.safetensors
                                                                  # every m3e-small gradient in full (never commit;
                                                                  # read by the Swift test when
                                                                  # ENCODER_GRADIENT_FULL_GOLDEN=OUT.safetensors)

The computation, for a list of texts of different lengths (token ids, [CLS] … [SEP]):
each text runs alone through BertModel (eval mode: dropout off; no padding, so no attention
mask is involved), its last hidden state is mean-pooled over its tokens, and the loss is a
fixed random projection L = Σ_t Σ_j pooled[t, j] · R[t, j]. The model runs in float64, so
the goldens are the exact gradients of the float32 weights, not one more float32 rounding;
the Swift float32 result is then held to ‖ours − torch‖ / ‖torch‖ ≤ 1e-4 per tensor.

* tiny: the committed tiny random BERT (Tests/ListConRankerTests/Fixtures/tiny-model: hidden 16,
  2 layers, 4 heads, intermediate 32, vocab 10000, 512 positions), texts of 5, 9 and 17 tokens
  with a token repeated inside a text and across texts. Every gradient is recorded in full,
  except the word and position embeddings, whose gradients are zero outside the rows the texts
  use: those are recorded as the used rows (and the script checks the rest are exactly zero).
* m3e: the real m3e-small (.models/m3e-small: hidden 512, 4 layers, 8 heads, intermediate 2048),
  one list (a query and three passages, Chinese, tokenized by its tokenizer). Its gradients are
  too large to commit (~13 M numbers outside the embeddings), so the golden holds, per tensor,
  the gradient's L2 norm and 48 entries at seeded random positions (for the two embeddings, in
  the used rows). `m3e-full` writes the complete gradients for a full comparison on demand.
"""
import json
import os
import sys

import numpy as np
import torch
from transformers import AutoTokenizer, BertModel

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TINY = os.path.join(ROOT, "Tests", "ListConRankerTests", "Fixtures", "tiny-model")
M3E = os.path.join(ROOT, ".models", "m3e-small")
FIXTURES = os.path.join(ROOT, "Tests", "ListConRankerTrainingTests", "Fixtures")

SPARSE = ("embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight")
M3E_TEXTS = [
    "如何在命令行中查看文件的内容",
    "cat 命令把文件连接起来并打印到标准输出，常用来查看短文件的全部内容。",
    "ls 列出目录中的文件和子目录，可以用 -l 选项显示详细信息。",
    "less 是一个分页程序，一次显示一屏文本，可以向前和向后翻页，适合阅读很长的文件。",
]
M3E_SAMPLES = 48


def f32(values):
    """Shortest decimal that reads back as the same float32."""
    return [float(str(np.float32(v))) for v in np.asarray(values, dtype=np.float32).reshape(-1)]


def encoder_parameters(model):
    """The trainable encoder tensors by their BertModel key (the pooler is not one: mean pooling
    replaces it)."""
    return [(n, p) for n, p in model.named_parameters() if not n.startswith("pooler.")]


def run(model, texts, projection):
    """Mean-pooled vectors and L = Σ pooled ⊙ R, each text alone through the model; gradients
    left in the parameters' .grad."""
    model.zero_grad(set_to_none=True)
    pooled = []
    for ids in texts:
        input_ids = torch.tensor([ids], dtype=torch.long)
        hidden = model(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids)).last_hidden_state[0]
        pooled.append(hidden.mean(dim=0))
    pooled = torch.stack(pooled)                                   # [texts, hidden]
    loss = (pooled * projection).sum()
    loss.backward()
    return pooled.detach(), loss.detach()


def load(directory):
    model = BertModel.from_pretrained(directory, attn_implementation="eager").double()
    model.eval()                                                    # dropout off
    return model


def used_rows(name, texts):
    if name == "embeddings.word_embeddings.weight":
        return sorted({i for ids in texts for i in ids})
    return list(range(max(len(ids) for ids in texts)))


def tiny():
    model = load(TINY)
    vocab, hidden = model.config.vocab_size, model.config.hidden_size
    rng = np.random.default_rng(2025)
    texts = []
    for length in (5, 9, 17):
        body = [int(x) for x in rng.integers(200, vocab, size=length - 2)]
        texts.append([101] + body + [102])
    texts[2][5] = texts[2][3]          # a token twice in one text
    texts[1][2] = texts[2][7]          # and one shared between texts
    projection = torch.tensor(rng.standard_normal((len(texts), hidden)), dtype=torch.float64)
    pooled, loss = run(model, texts, projection)

    gradients, sparse = {}, {}
    for name, p in encoder_parameters(model):
        g = p.grad.detach()
        if name in SPARSE:
            rows = used_rows(name, texts)
            rest = torch.ones(g.shape[0], dtype=torch.bool)
            rest[rows] = False
            assert torch.count_nonzero(g[rest]) == 0, f"{name}: gradient outside the used rows"
            sparse[name] = {"rows": rows, "values": f32(g[rows])}
        else:
            gradients[name] = f32(g)
    golden = {
        "model": "tiny-model",
        "texts": texts,
        "hidden": hidden,
        "projection": f32(projection),
        "loss": float(loss),
        "pooled": f32(pooled),
        "gradients": gradients,
        "sparse_gradients": sparse,
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
    }
    write(os.path.join(FIXTURES, "encoder-gradient-goldens.json"), golden, loss)


def m3e_run():
    model = load(M3E)
    tokenizer = AutoTokenizer.from_pretrained(M3E)
    texts = [tokenizer(t, truncation=True, max_length=512)["input_ids"] for t in M3E_TEXTS]
    rng = np.random.default_rng(512)
    projection = torch.tensor(rng.standard_normal((len(texts), model.config.hidden_size)), dtype=torch.float64)
    pooled, loss = run(model, texts, projection)
    return model, texts, projection, pooled, loss, rng


def m3e():
    model, texts, projection, pooled, loss, rng = m3e_run()
    tensors = {}
    for name, p in encoder_parameters(model):
        g = p.grad.detach().reshape(-1)
        if name in SPARSE:
            width = p.shape[1]
            rows = np.array(used_rows(name, texts))
            picked = rng.choice(len(rows) * width, size=M3E_SAMPLES, replace=False)
            indices = sorted(int(rows[i // width] * width + i % width) for i in picked)
        else:
            indices = sorted(int(i) for i in rng.choice(g.numel(), size=min(M3E_SAMPLES, g.numel()), replace=False))
        tensors[name] = {"norm": float(g.norm()), "indices": indices, "values": f32(g[indices])}
    golden = {
        "model": "m3e-small",
        "texts": texts,
        "hidden": model.config.hidden_size,
        "projection": f32(projection),
        "loss": float(loss),
        "pooled": f32(pooled),
        "tensors": tensors,
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
    }
    write(os.path.join(FIXTURES, "encoder-gradient-m3e-small.json"), golden, loss)


def m3e_full(out):
    from safetensors.torch import save_file
    model, _, _, _, loss, _ = m3e_run()
    save_file({n: p.grad.detach().float().contiguous() for n, p in encoder_parameters(model)}, out)
    print(f"wrote {out} ({os.path.getsize(out)} bytes); loss {float(loss):.6f}")


def write(path, golden, loss):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
    print(f"wrote {path} ({os.path.getsize(path)} bytes); loss {float(loss):.6f}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    mode = sys.argv[1] if len(sys.argv) > 1 else "tiny"
    if mode == "tiny":
        tiny()
    elif mode == "m3e":
        m3e()
    elif mode == "m3e-full" and len(sys.argv) == 3:
        m3e_full(sys.argv[2])
    else:
        sys.exit(__doc__)
