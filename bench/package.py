"""Section 6: the Lambda deployment package against Lambda's limits, and the handler's import.

Built the way `chalice deploy` and `chalice package` build it (`chalice package` of a copy of
the project: Chalice downloads the dependencies' wheels for the Lambda runtime), twice: with
requirements.txt as it is, and with boto3 added back, to show what taking boto3 from the Lambda
runtime saves. Measured: the zip's bytes, the unpacked bytes, the biggest top-level entries,
and `import app` from the unpacked package in fresh interpreters (median; boto3, where the
package lacks it, comes from this environment as it would from the runtime).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

from bench.util import ROOT, log, median, python

LIMIT_ZIPPED = 50 * 1024 * 1024  # a zip uploaded directly, as `chalice deploy` does
LIMIT_UNZIPPED = 250 * 1024 * 1024  # the function and its layers, unpacked
BOTO3 = "boto3==1.44.8"  # what requirements.txt pinned before boto3 came from the runtime


def build(workdir: Path, extra: tuple[str, ...] = ()) -> Path:
    project = workdir / "project"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    shutil.copy(ROOT / "app.py", project / "app.py")
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    (project / ".chalice").mkdir()
    shutil.copy(ROOT / ".chalice" / "config.json", project / ".chalice" / "config.json")
    # the stage's policy file is written by `make infra`; its content does not change the package
    (project / ".chalice" / "policy-dev.json").write_text('{"Version": "2012-10-17", "Statement": []}')
    requirements = (ROOT / "requirements.txt").read_text()
    (project / "requirements.txt").write_text(requirements + "".join(f"\n{line}" for line in extra) + "\n")
    out = workdir / "out"
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    chalice = str(Path(python()).parent / "chalice")
    done = subprocess.run([chalice, "package", "--stage", "dev", str(out)], cwd=project, env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    if done.returncode:
        raise RuntimeError(f"chalice package failed:\n{done.stdout}\n{done.stderr}")
    return out / "deployment.zip"


def measure(package: Path, workdir: Path, runs: int) -> dict:
    unpacked = workdir / "unpacked"
    shutil.rmtree(unpacked, ignore_errors=True)
    with zipfile.ZipFile(package) as archive:
        infos = archive.infolist()
        archive.extractall(unpacked)
    sizes: dict[str, int] = {}
    for info in infos:
        top = info.filename.split("/", 1)[0]
        top = top.split("-")[0] if top.endswith((".dist-info", ".libs")) else top
        sizes[top] = sizes.get(top, 0) + info.file_size
    code = "import sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter(); import app; print(time.perf_counter() - t)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "PYTHONPATH"))}
    subprocess.run([python(), "-c", code, str(unpacked)], env=env, check=True, capture_output=True, cwd=workdir)  # warm the file cache
    times = [
        float(subprocess.run([python(), "-c", code, str(unpacked)], env=env, check=True, capture_output=True,
                             text=True, cwd=workdir).stdout)
        for _ in range(runs)
    ]
    return {
        "zipped": package.stat().st_size,
        "unzipped": sum(i.file_size for i in infos),
        "files": len(infos),
        "largest": sorted(sizes.items(), key=lambda kv: -kv[1])[:8],
        "import_s": median(times),
    }


def run(workdir: Path, quick: bool) -> dict:
    runs = 3 if quick else 9
    log("package: chalice package with requirements.txt")
    result = {"runtime_boto3": measure(build(workdir / "a"), workdir / "a", runs)}
    log(f"package: and with {BOTO3} bundled")
    result["bundled_boto3"] = measure(build(workdir / "b", (BOTO3,)), workdir / "b", runs)
    return result


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def render(result: dict, results: dict) -> str:
    a, b = result["runtime_boto3"], result["bundled_boto3"]
    lines = [
        "## Lambda package",
        "",
        "`chalice package` of the app as deployed (`bench/package.py`): what `chalice deploy` uploads.",
        "",
        "| package | zipped | unzipped | files | `import app` (median) |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| requirements.txt (boto3 from the Lambda runtime) | {_mb(a['zipped'])} | {_mb(a['unzipped'])} | {a['files']} | {a['import_s'] * 1000:.0f} ms |",
        f"| with `{BOTO3}` bundled | {_mb(b['zipped'])} | {_mb(b['unzipped'])} | {b['files']} | {b['import_s'] * 1000:.0f} ms |",
        f"| Lambda's limits | {_mb(LIMIT_ZIPPED)} (direct upload) | {_mb(LIMIT_UNZIPPED)} | | |",
        "",
        "Largest entries of the package: " + ", ".join(f"{name} {_mb(size)}" for name, size in a["largest"]) + ".",
        "",
        (f"Taking boto3 from the runtime saves {_mb(b['zipped'] - a['zipped'])} zipped and "
         f"{_mb(b['unzipped'] - a['unzipped'])} unpacked; the package uses "
         f"{a['zipped'] / LIMIT_ZIPPED:.0%} of the zipped and {a['unzipped'] / LIMIT_UNZIPPED:.0%} of the unpacked limit."),
    ]
    return "\n".join(lines)
