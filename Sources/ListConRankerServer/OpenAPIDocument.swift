// The OpenAPI document served at GET /openapi.json, kept byte-identical to openapi.json beside
// this file (a test checks both that and that its paths are exactly the routes served). It is a
// string rather than a bundle resource so that a copied binary never loses it.

enum OpenAPIDocument {
    static let json = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "ListConRanker rerank service",
    "version": "0.1.0",
    "description": "Listwise reranking with ListConRanker, in Text Embeddings Inference's shape (/rerank) and Cohere / Jina's shape (/v1/rerank). Lists of more than 20 texts are ranked by iterative inference: their scores order the texts but are not probabilities. With --store, /v1/rerank also ranks passages by id from a feature store of their encoder vectors (only the query is encoded); with --api-key as well, /v1/index and /v1/index/{id} fill and prune that store."
  },
  "paths": {
    "/rerank": {
      "post": {
        "operationId": "rerank",
        "summary": "Rerank texts against a query (TEI shape).",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/RerankRequest"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Texts ranked best first.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/Rank"
                  }
                }
              }
            }
          },
          "413": {
            "description": "Too many texts (max-client-batch-size), too many tokens (max-batch-tokens), a text over the model's maximum without truncate, or a body over the payload limit.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          },
          "422": {
            "description": "Malformed JSON, a wrong type, an empty query or list, raw_scores with more than 20 texts, an unknown or unsupported truncation_direction.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          },
          "424": {
            "description": "The model failed while scoring (error_type Backend).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          },
          "429": {
            "description": "The queue in front of the model is full (max-concurrent-requests; error_type Overloaded).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          },
          "503": {
            "description": "The model is still loading (error_type Unhealthy).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          }
        }
      }
    },
    "/v1/rerank": {
      "post": {
        "operationId": "rerankCohere",
        "summary": "Rerank documents against a query (Cohere / Jina shape), given inline or, with a feature store, by id.",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/CohereRerankRequest"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Documents ranked best first, cut to top_n.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/CohereRerankResponse"
                }
              }
            }
          },
          "413": {
            "description": "Too many texts (max-client-batch-size), too many tokens (max-batch-tokens), a text over the model's maximum without truncate, or a body over the payload limit.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          },
          "422": {
            "description": "Malformed JSON, a wrong type, an empty query or list, both or neither of documents and document_ids, document_ids without a feature store or with return_documents, an empty id, or ids the feature store does not hold (named in the message).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          },
          "424": {
            "description": "The model failed while scoring (error_type Backend).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          },
          "429": {
            "description": "The queue in front of the model is full (max-concurrent-requests; error_type Overloaded).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          },
          "503": {
            "description": "The model is still loading (error_type Unhealthy), or the feature store's database cannot be reached for a document_ids request (error_type Unavailable, Retry-After: 1; the service reconnects by itself).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          },
          "500": {
            "description": "The feature store failed otherwise than by being unreachable (error_type Backend).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          }
        }
      }
    },
    "/v1/index": {
      "post": {
        "operationId": "index",
        "summary": "Encode passages and store their vectors under their ids (only with --store and --api-key; 404 otherwise).",
        "description": "Texts whose SHA-256 the store already holds for the id are skipped. A repeated id: the last entry wins, and it is counted in duplicates. The entries are written in one transaction.",
        "security": [
          {
            "bearerAuth": []
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/IndexRequest"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "Counts of what was done.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/IndexResponse"
                }
              }
            }
          },
          "401": {
            "description": "Missing or wrong Bearer token (error_type Unauthorized).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          },
          "413": {
            "description": "Too many documents (max-client-batch-size), too many tokens (max-batch-tokens) or a body over the payload limit.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          },
          "422": {
            "description": "Malformed JSON, an empty list, or an empty id or text (named by its index).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          },
          "424": {
            "description": "The model failed while encoding (error_type Backend).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          },
          "429": {
            "description": "The queue in front of the model is full (error_type Overloaded).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          },
          "503": {
            "description": "The model is still loading (Unhealthy) or the feature store cannot be reached (Unavailable).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          }
        }
      }
    },
    "/v1/index/{id}": {
      "delete": {
        "operationId": "deleteIndexed",
        "summary": "Remove a passage from the feature store (only with --store and --api-key; 404 otherwise). Succeeds whether or not the id was held.",
        "security": [
          {
            "bearerAuth": []
          }
        ],
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "description": "The passage id, percent-encoded.",
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "200": {
            "description": "The id is gone; deleted says whether the store held it.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/DeleteResponse"
                }
              }
            }
          },
          "401": {
            "description": "Missing or wrong Bearer token (error_type Unauthorized).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          },
          "503": {
            "description": "The model is still loading (Unhealthy) or the feature store cannot be reached (Unavailable).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          }
        }
      }
    },
    "/health": {
      "get": {
        "operationId": "health",
        "summary": "200 once the model is loaded, 503 before.",
        "responses": {
          "200": {
            "description": "The model is loaded.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "status"
                  ],
                  "properties": {
                    "status": {
                      "type": "string",
                      "const": "ok"
                    }
                  }
                }
              }
            }
          },
          "503": {
            "description": "The model is still loading.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ErrorResponse"
                }
              }
            }
          }
        }
      }
    },
    "/info": {
      "get": {
        "operationId": "info",
        "summary": "Model, precision, limits and version.",
        "responses": {
          "200": {
            "description": "Service information; the model fields are null while it loads.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Info"
                }
              }
            }
          }
        }
      }
    },
    "/metrics": {
      "get": {
        "operationId": "metrics",
        "summary": "Prometheus metrics in the text exposition format.",
        "responses": {
          "200": {
            "description": "Metrics.",
            "content": {
              "text/plain": {
                "schema": {
                  "type": "string"
                }
              }
            }
          }
        }
      }
    },
    "/openapi.json": {
      "get": {
        "operationId": "openapi",
        "summary": "This document.",
        "responses": {
          "200": {
            "description": "The OpenAPI document.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          }
        }
      }
    }
  },
  "components": {
    "schemas": {
      "RerankRequest": {
        "type": "object",
        "required": [
          "query",
          "texts"
        ],
        "properties": {
          "query": {
            "type": "string",
            "minLength": 1
          },
          "texts": {
            "type": "array",
            "minItems": 1,
            "items": {
              "type": "string"
            }
          },
          "raw_scores": {
            "type": "boolean",
            "default": false,
            "description": "Logits instead of sigmoid probabilities; refused (422) for more than 20 texts."
          },
          "return_text": {
            "type": "boolean",
            "default": false
          },
          "truncate": {
            "type": "boolean",
            "default": false,
            "description": "Cut texts over the model's maximum length instead of refusing them (413)."
          },
          "truncation_direction": {
            "type": "string",
            "enum": [
              "Right",
              "Left"
            ],
            "default": "Right",
            "description": "Left is refused (422) when a text would need truncating: the model truncates on the right."
          }
        }
      },
      "Rank": {
        "type": "object",
        "required": [
          "index",
          "score"
        ],
        "properties": {
          "index": {
            "type": "integer",
            "minimum": 0
          },
          "score": {
            "type": "number"
          },
          "text": {
            "type": "string"
          }
        }
      },
      "CohereRerankRequest": {
        "type": "object",
        "required": [
          "query"
        ],
        "properties": {
          "model": {
            "type": "string",
            "description": "Accepted and ignored: the service serves one model."
          },
          "query": {
            "type": "string",
            "minLength": 1
          },
          "documents": {
            "type": "array",
            "minItems": 1,
            "items": {
              "oneOf": [
                {
                  "type": "string"
                },
                {
                  "type": "object",
                  "required": [
                    "text"
                  ],
                  "properties": {
                    "text": {
                      "type": "string"
                    }
                  }
                }
              ]
            }
          },
          "document_ids": {
            "type": "array",
            "minItems": 1,
            "items": {
              "type": "string",
              "minLength": 1
            },
            "description": "Ids of passages in the feature store (--store), in place of documents: their stored vectors are used and only the query is encoded. Not with return_documents (the store keeps no texts: 422); each result carries its id."
          },
          "top_n": {
            "type": "integer",
            "minimum": 1
          },
          "return_documents": {
            "type": "boolean",
            "default": false
          }
        },
        "description": "Exactly one of documents and document_ids."
      },
      "CohereRerankResponse": {
        "type": "object",
        "required": [
          "id",
          "model",
          "results",
          "meta",
          "usage"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "model": {
            "type": "string"
          },
          "results": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "index",
                "relevance_score"
              ],
              "properties": {
                "index": {
                  "type": "integer",
                  "minimum": 0
                },
                "relevance_score": {
                  "type": "number"
                },
                "document": {
                  "type": "object",
                  "required": [
                    "text"
                  ],
                  "properties": {
                    "text": {
                      "type": "string"
                    }
                  }
                },
                "id": {
                  "type": "string",
                  "description": "The passage's id, for a document_ids request."
                }
              }
            }
          },
          "meta": {
            "type": "object",
            "required": [
              "billed_units"
            ],
            "properties": {
              "billed_units": {
                "type": "object",
                "required": [
                  "search_units"
                ],
                "properties": {
                  "search_units": {
                    "type": "integer"
                  }
                }
              }
            }
          },
          "usage": {
            "type": "object",
            "required": [
              "total_tokens"
            ],
            "properties": {
              "total_tokens": {
                "type": "integer"
              }
            }
          }
        }
      },
      "IndexRequest": {
        "type": "object",
        "required": [
          "documents"
        ],
        "properties": {
          "documents": {
            "type": "array",
            "minItems": 1,
            "items": {
              "type": "object",
              "required": [
                "id",
                "text"
              ],
              "properties": {
                "id": {
                  "type": "string",
                  "minLength": 1
                },
                "text": {
                  "type": "string",
                  "minLength": 1
                }
              }
            }
          }
        }
      },
      "IndexResponse": {
        "type": "object",
        "required": [
          "indexed",
          "unchanged",
          "duplicates"
        ],
        "properties": {
          "indexed": {
            "type": "integer",
            "description": "Distinct ids encoded and written (new or changed text)."
          },
          "unchanged": {
            "type": "integer",
            "description": "Distinct ids skipped: the store held the same text."
          },
          "duplicates": {
            "type": "integer",
            "description": "Entries that repeated an earlier entry's id (the last one won)."
          }
        }
      },
      "DeleteResponse": {
        "type": "object",
        "required": [
          "id",
          "deleted"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "deleted": {
            "type": "boolean",
            "description": "Whether the store held the id."
          }
        }
      },
      "Info": {
        "type": "object",
        "required": [
          "model_id",
          "model_dtype",
          "max_input_length",
          "ready",
          "max_concurrent_requests",
          "max_client_batch_size",
          "max_batch_tokens",
          "payload_limit",
          "iterative_inference_above",
          "version"
        ],
        "properties": {
          "model_id": {
            "type": [
              "string",
              "null"
            ]
          },
          "model_dtype": {
            "type": [
              "string",
              "null"
            ],
            "enum": [
              "fp32",
              "bf16",
              null
            ]
          },
          "max_input_length": {
            "type": [
              "integer",
              "null"
            ]
          },
          "ready": {
            "type": "boolean"
          },
          "max_concurrent_requests": {
            "type": "integer"
          },
          "max_client_batch_size": {
            "type": "integer"
          },
          "max_batch_tokens": {
            "type": "integer"
          },
          "payload_limit": {
            "type": "integer"
          },
          "iterative_inference_above": {
            "type": "integer"
          },
          "version": {
            "type": "string"
          }
        }
      },
      "ErrorResponse": {
        "type": "object",
        "required": [
          "error",
          "error_type"
        ],
        "properties": {
          "error": {
            "type": "string"
          },
          "error_type": {
            "type": "string",
            "enum": [
              "Validation",
              "Overloaded",
              "Backend",
              "Tokenizer",
              "Unhealthy",
              "Unavailable",
              "Unauthorized"
            ]
          }
        }
      }
    },
    "securitySchemes": {
      "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "The service's --api-key; guards only the index routes."
      }
    }
  }
}
"""#
}
