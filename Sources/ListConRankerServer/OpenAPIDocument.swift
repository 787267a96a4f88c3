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
    "description": "Listwise reranking with ListConRanker, in Text Embeddings Inference's shape (/rerank) and Cohere / Jina's shape (/v1/rerank). Lists of more than 20 texts are ranked by iterative inference: their scores order the texts but are not probabilities."
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
        "summary": "Rerank documents against a query (Cohere / Jina shape).",
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
          "query",
          "documents"
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
          "top_n": {
            "type": "integer",
            "minimum": 1
          },
          "return_documents": {
            "type": "boolean",
            "default": false
          }
        }
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
              "Unhealthy"
            ]
          }
        }
      }
    }
  }
}
"""#
}
