"""PyTorch reference for ListConRanker: the model and the two inference algorithms,
written to match ByteDance's published code (the MTEB wrapper `ListConRanker`):

* every text (query and passages) is tokenized and BERT-encoded separately, padded to the
  batch's longest text; last hidden state mean-pooled over real tokens;
* `linear_in_embedding` (hidden → list width);
* ListTransformer: a query tag embedding + LayerNorm, `nn.TransformerEncoder` (post-norm,
  GELU erf, batch_first) under the ListAttention mask (query row sees only itself;
  padding masked), and the score head over [f_0; f_i] and [g_0; g_i];
* `compute_score` (conventional) and `iterative_inference` (the original algorithm: it
  re-encodes surviving passages every round and keys scores by passage text).

Widths are parameters so tests can use tiny random models; the published model uses
d_model 1792, 16 heads (BERT's num_attention_heads), FFN 2048 and 2 layers.
"""
import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from transformers import AutoModel, AutoTokenizer


class QueryEmbedding(nn.Module):
    """Adds a learned tag (1 for the query row, 0 for passages) and normalises."""

    def __init__(self, width):
        super().__init__()
        self.query_embedding = nn.Embedding(2, width)
        self.layerNorm = nn.LayerNorm(width)

    def forward(self, x, tags):
        return self.layerNorm(x + self.query_embedding(tags))


class ListTransformer(nn.Module):
    def __init__(self, num_layers, heads, width=1792, ffn=2048):
        super().__init__()
        # Kept as in the original: TransformerEncoder deep-copies this template, so the
        # state dict carries an unused `list_transformer_layer.*` copy.
        self.list_transformer_layer = nn.TransformerEncoderLayer(
            width, heads, dim_feedforward=ffn, batch_first=True, activation=F.gelu, norm_first=False)
        self.list_transformer = nn.TransformerEncoder(self.list_transformer_layer, num_layers)
        self.relu = nn.ReLU()
        self.query_embedding = QueryEmbedding(width)
        self.linear_score3 = nn.Linear(width * 2, width)
        self.linear_score2 = nn.Linear(width * 2, width)
        self.linear_score1 = nn.Linear(width * 2, 1)

    def forward(self, features, passage_counts):
        """features: [sum(n_i + 1), width], each list's query first. Returns logits [sum(n_i)]."""
        lengths = [n + 1 for n in passage_counts]
        lists = features.split(lengths)
        # Score-head input from the features before tagging: [f_0 ; f_i].
        pre = torch.cat([torch.cat([l[0:1].expand(len(l) - 1, -1), l[1:]], dim=1) for l in lists], dim=0)

        padded = nn.utils.rnn.pad_sequence(list(lists), batch_first=True)
        tags = torch.zeros(padded.shape[0], padded.shape[1], dtype=torch.long, device=padded.device)
        tags[:, 0] = 1
        padded = self.query_embedding(padded, tags)

        max_len = max(lengths)
        key_padding = torch.zeros(len(lengths), max_len, dtype=torch.bool, device=padded.device)
        for i, length in enumerate(lengths):
            key_padding[i, length:] = True
        list_mask = torch.zeros(max_len, max_len, dtype=torch.bool, device=padded.device)
        list_mask[0, 1:] = True  # the query row attends to itself only
        out = self.list_transformer(padded, src_key_padding_mask=key_padding, mask=list_mask)

        post = torch.cat([torch.cat([out[i, 0:1].expand(n - 1, -1), out[i, 1:n]], dim=1)
                          for i, n in enumerate(lengths)], dim=0)
        a = self.relu(self.linear_score2(pre))
        b = self.relu(self.linear_score3(post))
        return self.linear_score1(torch.cat([a, b], dim=1)).squeeze(-1)


class ListConRankerReference(nn.Module):
    def __init__(self, bert, list_layers=2, list_width=1792, list_ffn=2048):
        super().__init__()
        self.bert = bert
        hidden = bert.config.hidden_size
        self.linear_in_embedding = nn.Linear(hidden, list_width)
        self.list_transformer = ListTransformer(list_layers, bert.config.num_attention_heads, list_width, list_ffn)

    @staticmethod
    def mean_pool(hidden, mask):
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(dim=1) / m.sum(dim=1)

    def encode(self, input_ids, attention_mask):
        """Mean-pooled last hidden state, in chunks of 400 texts as the original does."""
        pooled = []
        for ids, mask in zip(input_ids.split(400), attention_mask.split(400)):
            hidden = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
            pooled.append(self.mean_pool(hidden, mask))
        return torch.cat(pooled, dim=0)

    def logits(self, input_ids, attention_mask, passage_counts):
        features = self.linear_in_embedding(self.encode(input_ids, attention_mask))
        return self.list_transformer(features, passage_counts)


class Reranker:
    """compute_score and iterative_inference as the original wrapper defines them."""

    def __init__(self, directory, list_layers=2, dtype=torch.float32, device="cpu"):
        self.tokenizer = AutoTokenizer.from_pretrained(directory)
        bert = AutoModel.from_pretrained(directory, attn_implementation="eager")
        lin = torch.load(f"{directory}/linear_in_embedding.pt", weights_only=True)
        lt = torch.load(f"{directory}/list_transformer.pt", weights_only=True)
        width, hidden = lin["weight"].shape
        ffn = lt["list_transformer.layers.0.linear1.weight"].shape[0]
        self.model = ListConRankerReference(bert, list_layers, width, ffn)
        self.model.linear_in_embedding.load_state_dict(lin)
        self.model.list_transformer.load_state_dict(lt)
        self.model = self.model.to(dtype).to(device).eval()
        self.device = device
        self.encoder_texts = 0  # texts sent through BERT, to compare work with ours

    def tokenize(self, texts, max_length=512):
        return self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt", max_length=max_length)

    @torch.no_grad()
    def compute_score(self, lists, max_length=512, raw=False):
        counts = [len(l) - 1 for l in lists]
        texts = sum(lists, [])
        inputs = self.tokenize(texts, max_length)
        self.encoder_texts += len(texts)
        logits = self.model.logits(inputs["input_ids"].to(self.device), inputs["attention_mask"].to(self.device),
                                   counts).float()
        values = (logits if raw else torch.sigmoid(logits)).tolist()
        out, start = [], 0
        for n in counts:
            out.append(values[start:start + n])
            start += n
        return out

    @torch.no_grad()
    def iterative_inference(self, query_passages, max_length=512):
        query, passages = query_passages[0], query_passages[1:]
        rounds = 0
        by_text = {}
        while len(passages) > 20:
            scores = self.compute_score([[query] + passages], max_length)[0]
            order = np.argsort(scores).tolist()  # ascending
            k = max(math.ceil(len(passages) * 0.2), 10)
            removed = 0
            while removed < k:
                i = order[removed]
                by_text.setdefault(passages[i], []).append(scores[i] + rounds)
                removed += 1
            # Ties with the k-th lowest leave too (guarded against running off the end).
            while removed < len(order) and scores[order[removed - 1]] == scores[order[removed]]:
                i = order[removed]
                by_text.setdefault(passages[i], []).append(scores[i] + rounds)
                removed += 1
            passages = [passages[order[j]] for j in range(removed, len(passages))]
            rounds += 1
        if passages:
            scores = self.compute_score([[query] + passages], max_length)[0]
            for p, s in zip(passages, scores):
                by_text.setdefault(p, []).append(s + rounds)
        return [by_text[p][0] for p in query_passages[1:]]
