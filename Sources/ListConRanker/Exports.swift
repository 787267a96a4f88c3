// One module for users: `import ListConRanker` brings the tensor, checkpoint, tokenizer and
// digest (SHA256) types the public API takes and returns. They are separate targets so that the
// compiler keeps model names out of the formats and file reading out of the kernels, and so that
// the feature store can hash texts without depending on the model.
@_exported import ListConRankerCheckpoint
@_exported import ListConRankerDigest
@_exported import ListConRankerTensor
@_exported import ListConRankerTokenizer
@_exported import ListConRankerCUDA
