import JSON

/// The job language's form as a JSON Schema (draft 2020-12), served at `GET /v1/schema` and
/// printed by `sviserve schema`; openapi.yaml carries the same definitions under
/// `components/schemas`. It accepts exactly the documents ``SpecDecoder`` accepts on form — keys,
/// types, ranges, enumerations — except for what JSON Schema cannot say: that nested arrays are
/// rectangular and that an interval's lower bound is below its upper bound. A test compares the
/// two verdicts over thousands of mutated specs.
public enum JobSpecSchema {
    /// The schema document, as JSON text.
    public static let json: String = JSONWriter.pretty(document)

    /// The schema: ``template`` with every list of the language's words filled in from
    /// ``Vocabulary`` (distributions and aliases, estimators and their options, ELBOs, entropy
    /// modes, optimisers and their options, autoguides).
    static var document: JSONValue {
        guard var schema = try? JSONParser.parse(template) else { preconditionFailure("the schema template is not JSON") }
        for part in Vocabulary.schemaParts { schema.replace(at: part.path[...], with: part.value) }
        return schema
    }

    /// The language's structure; each `[]` of an `enum` and each `{}` definition is a place
    /// ``Vocabulary/schemaParts`` fills.
    static let template = #"""
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "sviserve job spec",
  "description": "The form of a job spec (docs/job-spec.md): keys, types and ranges, exactly as the service's decoder checks them. Not expressible here, and checked by the decoder: rectangular arrays (rows of equal length) and an interval's lower < upper. Names, shapes, supports and estimator fit are checked when the spec is compiled.",
  "$ref": "#/$defs/JobSpec",
  "$defs": {
    "JobSpec": {
      "type": "object",
      "description": "A job: data, plates, a model and a guide program, estimators, inference settings.",
      "required": [
        "model",
        "guide"
      ],
      "additionalProperties": false,
      "properties": {
        "name": {
          "type": "string"
        },
        "description": {
          "type": "string"
        },
        "data": {
          "$ref": "#/$defs/Data"
        },
        "plates": {
          "$ref": "#/$defs/Plates"
        },
        "model": {
          "type": "array",
          "items": {
            "$ref": "#/$defs/ModelStatement"
          }
        },
        "guide": {
          "$ref": "#/$defs/Guide"
        },
        "estimators": {
          "type": "object",
          "description": "Guide site name to estimator, overriding the site's own.",
          "additionalProperties": {
            "$ref": "#/$defs/Estimator"
          }
        },
        "inference": {
          "$ref": "#/$defs/Inference"
        },
        "tags": {
          "type": "array",
          "description": "Labels for GET /v1/jobs?tag=: at most 16, each 1 to 64 letters, digits or _ - . : /, no repeats.",
          "maxItems": 16,
          "uniqueItems": true,
          "items": {
            "type": "string",
            "pattern": "^[A-Za-z0-9_.:/-]{1,64}$"
          }
        },
        "init_from": {
          "$ref": "#/$defs/WarmStart"
        },
        "transport": {
          "$ref": "#/$defs/Transport"
        }
      }
    },
    "WarmStart": {
      "description": "Warm start: a succeeded job's id (the service reads its fitted params at submission), or the resolved form the service stores.",
      "anyOf": [
        {
          "type": "string",
          "minLength": 1,
          "maxLength": 64
        },
        {
          "type": "object",
          "required": [
            "job",
            "params"
          ],
          "additionalProperties": false,
          "properties": {
            "job": {
              "type": "string"
            },
            "params": {
              "type": "object",
              "additionalProperties": {
                "$ref": "#/$defs/Tensor"
              }
            }
          }
        }
      ]
    },
    "Transport": {
      "type": "object",
      "description": "Reference Gaussians for Gaussian guide sites (or _auto_latent, the whole autoguide), W2 and coupled estimates (docs/transport.md).",
      "required": [
        "references"
      ],
      "additionalProperties": false,
      "properties": {
        "references": {
          "type": "object",
          "maxProperties": 16,
          "propertyNames": {
            "$ref": "#/$defs/Identifier"
          },
          "additionalProperties": {
            "$ref": "#/$defs/Reference"
          }
        },
        "estimates": {
          "type": "object",
          "maxProperties": 32,
          "propertyNames": {
            "$ref": "#/$defs/Identifier"
          },
          "additionalProperties": {
            "type": "object",
            "required": [
              "reference",
              "f"
            ],
            "additionalProperties": false,
            "properties": {
              "reference": {
                "type": "string"
              },
              "f": {
                "type": "string"
              }
            }
          }
        },
        "draws": {
          "type": "integer",
          "minimum": 2,
          "maximum": 100000
        }
      }
    },
    "Reference": {
      "type": "object",
      "description": "The prior, a job id, or a mean with exactly one of cov, scale, scale_tril (a job id may come with them: the resolved form).",
      "required": [
        "site"
      ],
      "additionalProperties": false,
      "properties": {
        "site": {
          "type": "string"
        },
        "prior": {
          "const": true
        },
        "job": {
          "type": "string",
          "minLength": 1,
          "maxLength": 64
        },
        "mean": {
          "$ref": "#/$defs/Value"
        },
        "cov": {
          "$ref": "#/$defs/Value"
        },
        "scale": {
          "$ref": "#/$defs/Value"
        },
        "scale_tril": {
          "$ref": "#/$defs/Value"
        }
      },
      "oneOf": [
        {
          "required": [
            "prior"
          ],
          "not": {
            "anyOf": [
              {
                "required": [
                  "mean"
                ]
              },
              {
                "required": [
                  "cov"
                ]
              },
              {
                "required": [
                  "scale"
                ]
              },
              {
                "required": [
                  "scale_tril"
                ]
              },
              {
                "required": [
                  "job"
                ]
              }
            ]
          }
        },
        {
          "required": [
            "job"
          ],
          "not": {
            "anyOf": [
              {
                "required": [
                  "prior"
                ]
              },
              {
                "required": [
                  "mean"
                ]
              },
              {
                "required": [
                  "cov"
                ]
              },
              {
                "required": [
                  "scale"
                ]
              },
              {
                "required": [
                  "scale_tril"
                ]
              }
            ]
          }
        },
        {
          "required": [
            "mean"
          ],
          "not": {
            "required": [
              "prior"
            ]
          },
          "oneOf": [
            {
              "required": [
                "cov"
              ],
              "not": {
                "anyOf": [
                  {
                    "required": [
                      "scale"
                    ]
                  },
                  {
                    "required": [
                      "scale_tril"
                    ]
                  }
                ]
              }
            },
            {
              "required": [
                "scale"
              ],
              "not": {
                "anyOf": [
                  {
                    "required": [
                      "cov"
                    ]
                  },
                  {
                    "required": [
                      "scale_tril"
                    ]
                  }
                ]
              }
            },
            {
              "required": [
                "scale_tril"
              ],
              "not": {
                "anyOf": [
                  {
                    "required": [
                      "cov"
                    ]
                  },
                  {
                    "required": [
                      "scale"
                    ]
                  }
                ]
              }
            }
          ]
        }
      ]
    },
    "Identifier": {
      "type": "string",
      "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$",
      "description": "Letters, digits and _, not starting with a digit, at most 64 characters."
    },
    "Tensor": {
      "description": "A number or a nested array of numbers, at most 8 axes deep (rows of equal length).",
      "anyOf": [
        {
          "$ref": "#/$defs/Tensor0"
        },
        {
          "$ref": "#/$defs/Tensor1"
        },
        {
          "$ref": "#/$defs/Tensor2"
        },
        {
          "$ref": "#/$defs/Tensor3"
        },
        {
          "$ref": "#/$defs/Tensor4"
        },
        {
          "$ref": "#/$defs/Tensor5"
        },
        {
          "$ref": "#/$defs/Tensor6"
        },
        {
          "$ref": "#/$defs/Tensor7"
        },
        {
          "$ref": "#/$defs/Tensor8"
        }
      ]
    },
    "Tensor0": {
      "type": "number"
    },
    "Tensor1": {
      "type": "array",
      "items": {
        "$ref": "#/$defs/Tensor0"
      }
    },
    "Tensor2": {
      "type": "array",
      "items": {
        "$ref": "#/$defs/Tensor1"
      }
    },
    "Tensor3": {
      "type": "array",
      "items": {
        "$ref": "#/$defs/Tensor2"
      }
    },
    "Tensor4": {
      "type": "array",
      "items": {
        "$ref": "#/$defs/Tensor3"
      }
    },
    "Tensor5": {
      "type": "array",
      "items": {
        "$ref": "#/$defs/Tensor4"
      }
    },
    "Tensor6": {
      "type": "array",
      "items": {
        "$ref": "#/$defs/Tensor5"
      }
    },
    "Tensor7": {
      "type": "array",
      "items": {
        "$ref": "#/$defs/Tensor6"
      }
    },
    "Tensor8": {
      "type": "array",
      "items": {
        "$ref": "#/$defs/Tensor7"
      }
    },
    "SingleNumber": {
      "description": "A tensor holding exactly one number: 0.5, [0.5], [[0.5]], ...",
      "anyOf": [
        {
          "type": "number"
        },
        {
          "type": "array",
          "minItems": 1,
          "maxItems": 1,
          "items": {
            "$ref": "#/$defs/SingleNumber"
          }
        }
      ]
    },
    "Value": {
      "description": "A constant (a tensor) or an expression (a string that is not blank).",
      "anyOf": [
        {
          "type": "string",
          "pattern": "[^ \t]"
        },
        {
          "$ref": "#/$defs/Tensor"
        }
      ]
    },
    "Data": {
      "type": "object",
      "description": "Named constant arrays; an entry may declare the plates of its leading axes.",
      "propertyNames": {
        "$ref": "#/$defs/Identifier"
      },
      "additionalProperties": {
        "anyOf": [
          {
            "$ref": "#/$defs/Tensor"
          },
          {
            "type": "object",
            "required": [
              "value"
            ],
            "additionalProperties": false,
            "properties": {
              "value": {
                "$ref": "#/$defs/Tensor"
              },
              "plates": {
                "$ref": "#/$defs/PlateList"
              }
            }
          }
        ]
      }
    },
    "PlateList": {
      "type": "array",
      "description": "Plate names: a site's plates, or the plates of a value's leading axes.",
      "items": {
        "type": "string"
      }
    },
    "Plates": {
      "type": "object",
      "description": "Named conditionally independent dimensions, outermost first.",
      "propertyNames": {
        "$ref": "#/$defs/Identifier"
      },
      "additionalProperties": {
        "$ref": "#/$defs/Plate"
      }
    },
    "Plate": {
      "type": "object",
      "required": [
        "size"
      ],
      "additionalProperties": false,
      "properties": {
        "size": {
          "anyOf": [
            {
              "type": "integer",
              "minimum": 1,
              "maximum": 100000000
            },
            {
              "type": "string"
            }
          ],
          "description": "A positive integer or an expression of data such as len(x)."
        },
        "subsample": {
          "type": "integer",
          "minimum": 1,
          "maximum": 100000000,
          "description": "Mini-batch size."
        }
      }
    },
    "ModelStatement": {
      "description": "One statement of the model: param, let or sample (observed with obs).",
      "oneOf": [
        {
          "$ref": "#/$defs/ParamStatement"
        },
        {
          "$ref": "#/$defs/LetStatement"
        },
        {
          "$ref": "#/$defs/ModelSampleStatement"
        }
      ]
    },
    "GuideStatement": {
      "description": "One statement of the guide: param, let or sample.",
      "oneOf": [
        {
          "$ref": "#/$defs/ParamStatement"
        },
        {
          "$ref": "#/$defs/LetStatement"
        },
        {
          "$ref": "#/$defs/GuideSampleStatement"
        }
      ]
    },
    "ParamStatement": {
      "type": "object",
      "required": [
        "param",
        "init"
      ],
      "additionalProperties": false,
      "properties": {
        "param": {
          "$ref": "#/$defs/Identifier"
        },
        "init": {
          "$ref": "#/$defs/Value"
        },
        "constraint": {
          "$ref": "#/$defs/Constraint"
        },
        "lr": {
          "type": "number",
          "minimum": 0,
          "maximum": 1000000
        },
        "plates": {
          "$ref": "#/$defs/PlateList"
        }
      }
    },
    "LetStatement": {
      "type": "object",
      "required": [
        "let",
        "value"
      ],
      "additionalProperties": false,
      "properties": {
        "let": {
          "$ref": "#/$defs/Identifier"
        },
        "value": {
          "$ref": "#/$defs/Value"
        }
      }
    },
    "ModelSampleStatement": {
      "type": "object",
      "required": [
        "sample",
        "dist"
      ],
      "additionalProperties": false,
      "properties": {
        "sample": {
          "$ref": "#/$defs/Identifier"
        },
        "dist": {
          "$ref": "#/$defs/Distribution"
        },
        "args": {
          "$ref": "#/$defs/Arguments"
        },
        "plates": {
          "$ref": "#/$defs/PlateList"
        },
        "event_dims": {
          "type": "integer",
          "minimum": 0,
          "maximum": 8
        },
        "estimator": {
          "$ref": "#/$defs/Estimator"
        },
        "obs": {
          "$ref": "#/$defs/Value"
        }
      },
      "allOf": [
        {
          "$ref": "#/$defs/StraightThroughTemperature"
        },
        {
          "if": {
            "required": [
              "obs"
            ]
          },
          "then": {
            "properties": {
              "dist": {
                "not": {
                  "enum": []
                }
              }
            }
          }
        }
      ]
    },
    "GuideSampleStatement": {
      "type": "object",
      "required": [
        "sample",
        "dist"
      ],
      "additionalProperties": false,
      "properties": {
        "sample": {
          "$ref": "#/$defs/Identifier"
        },
        "dist": {
          "$ref": "#/$defs/Distribution"
        },
        "args": {
          "$ref": "#/$defs/Arguments"
        },
        "plates": {
          "$ref": "#/$defs/PlateList"
        },
        "event_dims": {
          "type": "integer",
          "minimum": 0,
          "maximum": 8
        },
        "estimator": {
          "$ref": "#/$defs/Estimator"
        }
      },
      "allOf": [
        {
          "$ref": "#/$defs/StraightThroughTemperature"
        }
      ]
    },
    "StraightThroughTemperature": {
      "description": "Pyro's straight-through distribution names take a constant temperature among their args.",
      "if": {
        "required": [
          "dist"
        ],
        "properties": {
          "dist": {
            "enum": []
          }
        }
      },
      "then": {
        "required": [
          "args"
        ],
        "properties": {
          "args": {
            "required": [
              "temperature"
            ],
            "properties": {
              "temperature": {
                "$ref": "#/$defs/SingleNumber"
              }
            }
          }
        }
      }
    },
    "Distribution": {
      "type": "string",
      "enum": []
    },
    "Arguments": {
      "type": "object",
      "description": "The distribution's arguments by torch's names, each a constant or an expression.",
      "additionalProperties": {
        "$ref": "#/$defs/Value"
      }
    },
    "Constraint": {
      "description": "Where a param lives (torch's transform_to).",
      "oneOf": [
        {
          "type": "string",
          "enum": []
        },
        {
          "type": "object",
          "required": [
            "interval"
          ],
          "additionalProperties": false,
          "properties": {
            "interval": {
              "type": "array",
              "minItems": 2,
              "maxItems": 2,
              "items": {
                "type": "number"
              },
              "description": "[lower, upper], lower < upper."
            }
          }
        }
      ]
    },
    "Guide": {
      "description": "The guide's statements, or an autoguide over every latent site of the model.",
      "oneOf": [
        {
          "type": "array",
          "items": {
            "$ref": "#/$defs/GuideStatement"
          }
        },
        {
          "$ref": "#/$defs/AutoGuide"
        }
      ]
    },
    "AutoGuide": {
      "type": "object",
      "required": [
        "auto"
      ],
      "additionalProperties": false,
      "properties": {
        "auto": {
          "type": "string",
          "enum": []
        },
        "init_scale": {
          "type": "number",
          "exclusiveMinimum": 0,
          "maximum": 1000000
        },
        "estimator": {
          "$ref": "#/$defs/Estimator"
        }
      }
    },
    "Estimator": {},
    "Baseline": {
      "description": "A score estimator's baseline.",
      "oneOf": [
        {
          "type": "string",
          "enum": [
            "none",
            "loo",
            "decaying_avg"
          ]
        },
        {
          "type": "object",
          "minProperties": 1,
          "maxProperties": 1,
          "additionalProperties": false,
          "properties": {
            "decaying_avg": {
              "type": "number",
              "minimum": 0,
              "maximum": 0.999999
            },
            "learned": {
              "type": "object",
              "required": [
                "inputs"
              ],
              "additionalProperties": false,
              "properties": {
                "inputs": {
                  "type": "array",
                  "items": {
                    "type": "string"
                  },
                  "description": "Data or let names the regressor reads."
                },
                "hidden": {
                  "type": "integer",
                  "minimum": 0,
                  "maximum": 256,
                  "description": "0: linear; else a tanh MLP of this width."
                }
              }
            }
          }
        }
      ]
    },
    "Inference": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "elbo": {
          "type": "string",
          "enum": []
        },
        "steps": {
          "type": "integer",
          "minimum": 0,
          "maximum": 10000000
        },
        "particles": {
          "type": "integer",
          "minimum": 1,
          "maximum": 4096
        },
        "seed": {
          "type": "integer",
          "minimum": 0,
          "maximum": 2147483647
        },
        "report_every": {
          "type": "integer",
          "minimum": 1,
          "maximum": 10000000
        },
        "max_seconds": {
          "type": "number",
          "exclusiveMinimum": 0,
          "maximum": 31536000
        },
        "entropy": {
          "type": "string",
          "enum": []
        },
        "optimizer": {
          "$ref": "#/$defs/Optimizer"
        }
      }
    },
    "Optimizer": {},
    "LearningRate": {},
    "Betas": {},
    "Epsilon": {}
  }
}
"""#
}
