// The JSON job language: spec decoding, expressions, validation, compilation.
