"""Make `openai-openapi.json.gz` from OpenAI's `openapi.json` (github.com/openai/openai-openapi):
the operations the app calls and every component they reference, transitively, copied untouched
but for the documentation-only `x-oaiMeta` and `x-codeSamples`. The whole document is 3.4 MB;
this part is 117 kB (23 kB compressed).

    python tests/fakes/specs/openai_subset.py openapi.json tests/fakes/specs/openai-openapi.json.gz
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterator
from typing import Any

CALLED = {
    "/files": ["post"],
    "/files/{file_id}": ["get"],
    "/fine_tuning/jobs": ["post", "get"],
    "/fine_tuning/jobs/{fine_tuning_job_id}": ["get"],
    "/fine_tuning/jobs/{fine_tuning_job_id}/events": ["get"],
    "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints": ["get"],
    "/fine_tuning/jobs/{fine_tuning_job_id}/cancel": ["post"],
    "/models": ["get"],
    "/chat/completions": ["post"],
}
DOCS_ONLY = ("x-oaiMeta", "x-codeSamples")


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in DOCS_ONLY}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/"):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def subset(spec: dict[str, Any]) -> dict[str, Any]:
    paths = {p: {m: _strip(spec["paths"][p][m]) for m in ms} for p, ms in CALLED.items()}
    components: dict[str, dict[str, Any]] = {}
    todo = list(_refs(paths))
    while todo:
        _, _, kind, name = todo.pop().split("/", 3)
        if name not in components.setdefault(kind, {}):
            components[kind][name] = _strip(spec["components"][kind][name])
            todo += _refs(components[kind][name])
    kept = {k: spec[k] for k in ("openapi", "info", "servers") if k in spec}
    sorted_components = {k: dict(sorted(v.items())) for k, v in components.items()}
    return {**kept, "paths": paths, "components": sorted_components}


if __name__ == "__main__":
    source, target = sys.argv[1:3]
    with open(source, encoding="utf-8") as handle:
        data = json.dumps(subset(json.load(handle))).encode()
    with open(target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
        packed.write(data)
