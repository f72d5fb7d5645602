"""Checks what `sam build` made (`make build`): each function holds its handler, the layer holds bbq and its
dependencies as Lambda imports them (python/), built for the runtime and architecture the template names.

    python -m bbq_local.build_check .aws-sam/build
"""

import sys
from pathlib import Path

from bbq_local.stack import load_template


def problems(build: Path) -> list[str]:
    template = load_template()
    globals_ = template["Globals"]["Function"]
    runtime, (architecture,) = globals_["Runtime"], globals_["Architectures"]
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[architecture]
    tag = f"cp{runtime.removeprefix('python').replace('.', '')}"
    found = []
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function" and not (build / name / "app.py").is_file():
            found.append(f"{name}: no app.py")
    layer = build / "BbqLayer" / "python"
    for package in ("bbq", "boto3", "aws_lambda_powertools", "orjson", "jinja2", "pyarrow"):
        if not (layer / package).is_dir():
            found.append(f"BbqLayer: no {package}/ under python/")
    # Lambda's limit: a function and its layers unzipped take at most 250 MB (Lambda quotas).
    size = sum(p.stat().st_size for p in build.rglob("*") if p.is_file() and "Layer" in p.parts[len(build.parts)])
    if size > 200 * 1024 * 1024:
        found.append(f"BbqLayer: {size / 2**20:.0f} MB unzipped; keep it well under Lambda's 250 MB")
    compiled = sorted(p.name for p in layer.rglob("*.so"))
    wrong = [name for name in compiled if ".cpython-" in name and (tag[2:] not in name or machine not in name)]
    if not compiled or wrong:
        found.append(f"BbqLayer: extension modules not built for {runtime} on {architecture}: {wrong or 'none'}")
    return found


def main() -> int:
    found = problems(Path(sys.argv[1]))
    for problem in found:
        print(f"build check: {problem}", file=sys.stderr)
    print(f"build check: {'FAILED' if found else 'the functions and the layer are built for Lambda'}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
