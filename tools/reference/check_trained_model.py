"""Loads a model directory written by `listconranker train --stage 2` the way users of the
original load it, strictly, and scores lists with the reference code:

  python tools/reference/check_trained_model.py MODEL_DIR LISTS_JSON

* transformers' AutoModel (BertModel) from MODEL_DIR/model.safetensors: no missing, unexpected
  or mismatched keys (strict);
* linear_in_embedding.pt and list_transformer.pt with torch.load(weights_only=True) and
  load_state_dict(strict=True) into the reference modules (listconranker_reference.Reranker);
* LISTS_JSON: a JSON array of lists, each [query, passage, ...].
Prints {"scores": [[...], ...]} (sigmoid scores per list) and exits 0, or the problem and exits 1.
"""
import json
import os
import sys

import torch
from transformers import AutoModel

sys.path.insert(0, os.path.dirname(__file__))
from listconranker_reference import Reranker  # noqa: E402


def main(directory, lists_path):
    _, info = AutoModel.from_pretrained(directory, output_loading_info=True)
    problems = {k: v for k, v in info.items() if k != "error_msgs" and v}
    problems.update({"error_msgs": info["error_msgs"]} if info.get("error_msgs") else {})
    if problems:
        print(f"BertModel does not load {directory} strictly: {problems}")
        return 1
    torch.set_num_threads(1)
    reranker = Reranker(directory)
    lists = json.load(open(lists_path, encoding="utf-8"))
    print(json.dumps({"scores": reranker.compute_score(lists)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
