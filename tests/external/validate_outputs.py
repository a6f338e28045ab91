"""Validates skintex outputs with independent implementations (run by tests/external.rs).

usage: validate_outputs.py SCHEMA OUT_DIR

- every OUT_DIR/*/fhir-bundle.json must parse as a FHIR R4 (4.0.1) Bundle with the `fhir.resources`
  package (version 6.4, the last line whose default model is R4), each entry as its own resource type;
- every OUT_DIR/*/report.json must validate against SCHEMA (the JSON Schema `skintex schema` prints)
  with the `jsonschema` package.
Prints one line per file and exits 1 on the first invalid one.
"""
import json
import pathlib
import sys

import fhir.resources
import jsonschema
from fhir.resources.bundle import Bundle


def main() -> int:
    schema_path, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    if fhir.resources.__fhir_version__ != "4.0.1":
        print(f"fhir.resources models FHIR {fhir.resources.__fhir_version__}, not R4 4.0.1")
        return 1
    schema = json.loads(schema_path.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    bundles = sorted(out.glob("*/fhir-bundle.json"))
    reports = sorted(out.glob("*/report.json"))
    if not bundles or len(bundles) != len(reports):
        print(f"expected one bundle per report, found {len(bundles)} bundles and {len(reports)} reports")
        return 1
    for path in bundles:
        bundle = Bundle.parse_file(path)
        kinds = sorted({e.resource.resource_type for e in bundle.entry})
        print(f"valid FHIR R4 Bundle: {path.parent.name} ({len(bundle.entry)} entries: {', '.join(kinds)})")
    for path in reports:
        errors = sorted(validator.iter_errors(json.loads(path.read_text())), key=str)
        if errors:
            print(f"{path}: {errors[0].message} at {list(errors[0].absolute_path)}")
            return 1
        print(f"valid against the schema: {path.parent.name}/report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
