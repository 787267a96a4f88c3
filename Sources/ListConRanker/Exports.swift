// One module for users: `import ListConRanker` brings the tensor, checkpoint and tokenizer
// types the public API takes and returns. They are separate targets so that the compiler keeps
// model names out of the formats and file reading out of the kernels.
@_exported import ListConRankerCheckpoint
@_exported import ListConRankerTensor
@_exported import ListConRankerTokenizer
@_exported import ListConRankerCUDA
