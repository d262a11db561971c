"""The JSON Schema's verdict on documents, for the test that compares it with the decoder's.

Usage: schema_verdicts.py SCHEMA DOCUMENTS
SCHEMA is a JSON Schema (draft 2020-12) file; DOCUMENTS holds one JSON document per line.
Prints one line per document: "accept", or "reject POINTER: MESSAGE" for the most relevant
error. Exits 2 when the schema itself is not a valid draft 2020-12 schema.
"""
import json
import sys

from jsonschema import Draft202012Validator, exceptions


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    try:
        Draft202012Validator.check_schema(schema)
    except exceptions.SchemaError as e:
        print(f"invalid schema: {e.message}", file=sys.stderr)
        return 2
    validator = Draft202012Validator(schema)
    with open(sys.argv[2], encoding="utf-8") as f:
        for line in f:
            error = exceptions.best_match(validator.iter_errors(json.loads(line)))
            if error is None:
                print("accept")
            else:
                pointer = "".join(f"/{p}" for p in error.absolute_path)
                print(f"reject {pointer}: {error.message[:200]}".replace("\n", " "))
    return 0


if __name__ == "__main__":
    sys.exit(main())
