"""Runs the manifest checkers for scripts/check-manifests.sh and prints one summary table.

Each tool's exceptions come from its file under checks/ and are applied as that tool's own
per-object annotation on a temporary copy of the manifests, so an exception covers only the
objects it names and shows up in the tool's own output as skipped (counted as "excepted").
Exit status: 0 when no tool reports a failure, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass
class Row:
    tool: str
    run: int = 0
    passed: int = 0
    failed: int = 0
    excepted: int = 0
    note: str = ""
    findings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Exception_:
    check: str
    kind: str
    labels: dict[str, str]
    reason: str


def load_exceptions(path: Path) -> list[Exception_]:
    data = yaml.safe_load(path.read_text()) or {}
    out = []
    for i, entry in enumerate(data.get("exceptions") or []):
        missing = [k for k in ("check", "kind", "reason") if not entry.get(k)]
        if missing:
            sys.exit(f"error: {path} exception #{i + 1} lacks {', '.join(missing)}; every exception needs check, kind and a one-line reason")
        out.append(Exception_(entry["check"], entry["kind"], dict(entry.get("labels") or {}), entry["reason"]))
    return out


def matches(exc: Exception_, obj: dict) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return obj.get("kind") == exc.kind and all(labels.get(k) == v for k, v in exc.labels.items())


def load_objects(files: list[Path]) -> list[tuple[Path, dict]]:
    out = []
    for f in files:
        for doc in yaml.safe_load_all(f.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "List":
                out.extend((f, item) for item in doc.get("items") or [])
            elif isinstance(doc, dict):
                out.append((f, doc))
    return out


def write_annotated(objects: list[tuple[Path, dict]], dest: Path, annotate) -> None:
    """Writes every object to dest/<original file name>, after annotate(obj) adds annotations."""
    dest.mkdir(parents=True, exist_ok=True)
    by_file: dict[str, list[dict]] = {}
    for f, obj in objects:
        copy = json.loads(json.dumps(obj))
        annotate(copy)
        by_file.setdefault(f.name, []).append(copy)
    for name, docs in by_file.items():
        (dest / name).write_text(yaml.safe_dump_all(docs, sort_keys=False))


def add_annotation(obj: dict, key: str, value: str) -> None:
    meta = obj.setdefault("metadata", {})
    annotations = meta.get("annotations") or {}
    annotations[key] = value
    meta["annotations"] = annotations


def object_id(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{meta.get('namespace', '-')}/{meta.get('name')}"


def run_schema(files: list[Path], validator: str, version: str) -> Row:
    row = Row("schema (kubernetes-validate --strict)", note=f"k8s {version}")
    proc = subprocess.run([validator, "--strict", "-k", version, *map(str, files)], capture_output=True, text=True)
    for line in (proc.stdout + proc.stderr).splitlines():
        if " passed for resource " in line:
            row.run += 1
            row.passed += 1
        elif line.startswith("ERROR") or " did not validate " in line:
            row.run += 1
            row.failed += 1
            row.findings.append(line)
        elif line.startswith("WARN"):
            row.findings.append(line)
    if proc.returncode != 0 and row.failed == 0:
        row.failed += 1
        row.findings.append(f"kubernetes-validate exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()}")
    return row


def run_json(row: Row, name: str, cmd: list[str], env: dict[str, str] | None = None) -> list | dict | None:
    """Runs a checker that reports in JSON and returns its report; when it prints no JSON report (it
    crashed, or refused its arguments), counts that as a failure of the row and returns None."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        report = None
    if isinstance(report, (list, dict)):
        return report
    row.failed += 1
    row.findings.append(f"{name} did not produce JSON (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return None


def run_kube_score(objects, config_path: Path, binary: str, work: Path) -> Row:
    config = yaml.safe_load(config_path.read_text()) or {}
    exceptions = load_exceptions(config_path)
    row = Row("kube-score")
    excepted: set[tuple[str, str]] = set()

    def annotate(obj: dict) -> None:
        checks = [e.check for e in exceptions if matches(e, obj)]
        if checks:
            add_annotation(obj, "kube-score/ignore", ",".join(checks))
            excepted.update((object_id(obj), c) for c in checks)

    dest = work / "kube-score"
    write_annotated(objects, dest, annotate)
    cmd = [binary, "score", "--output-format", "json", "--kubernetes-version", config.get("kubernetesVersion", "v1.36")]
    for test in config.get("enableOptional") or []:
        cmd += ["--enable-optional-test", test]
    cmd += sorted(str(p) for p in dest.iterdir())
    results = run_json(row, "kube-score", cmd)
    if results is None:
        return row
    for obj in results:
        meta = obj.get("object_meta") or {}
        oid = f"{(obj.get('type_meta') or {}).get('kind')}/{meta.get('namespace', '-')}/{meta.get('name')}"
        for check in obj.get("checks") or []:
            cid = check["check"]["id"]
            if check.get("skipped"):
                if (oid, cid) in excepted:
                    row.excepted += 1
                continue
            row.run += 1
            # kube-score grades: 10 all OK, 7 almost OK, 5 warning, 1 critical.
            if check.get("grade", 0) >= 7:
                row.passed += 1
            else:
                row.failed += 1
                for comment in check.get("comments") or [{}]:
                    row.findings.append(
                        f"{oid}: {cid}: {comment.get('summary', '')} {comment.get('description', '')}".rstrip()
                    )
    return row


def run_checkov(objects, exceptions_path: Path, config_file: Path, binary: str, work: Path) -> Row:
    exceptions = load_exceptions(exceptions_path)
    row = Row("checkov (kubernetes)")

    def annotate(obj: dict) -> None:
        for n, e in enumerate((e for e in exceptions if matches(e, obj)), start=1):
            add_annotation(obj, f"checkov.io/skip{n}", f"{e.check}={e.reason}")

    dest = work / "checkov"
    write_annotated(objects, dest, annotate)
    env = dict(os.environ)
    # Offline: no guideline/mapping downloads, no platform, no update check.
    env.update(BC_SKIP_MAPPING="TRUE", CKV_SKIP_PACKAGE_UPDATE_CHECK="TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false")
    env.pop("BC_API_KEY", None)
    report = run_json(row, "checkov", [binary, "--config-file", str(config_file), "-d", str(dest), "-o", "json"], env)
    if report is None:
        return row
    reports = report if isinstance(report, list) else [report]
    for rep in reports:
        if not isinstance(rep, dict) or rep.get("check_type") not in (None, "kubernetes"):
            continue
        results = rep.get("results") or {}
        passed = results.get("passed_checks") or []
        failed = results.get("failed_checks") or []
        skipped = results.get("skipped_checks") or []
        row.passed += len(passed)
        row.failed += len(failed)
        row.excepted += len(skipped)
        row.run += len(passed) + len(failed)
        for f in failed:
            row.findings.append(f"{f.get('resource')}: {f.get('check_id')}: {f.get('check_name')}")
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--checks", required=True, type=Path)
    parser.add_argument("--k8s-version", required=True)
    parser.add_argument("--kubernetes-validate", required=True)
    parser.add_argument("--kube-score", required=True)
    parser.add_argument("--checkov", required=True)
    parser.add_argument("--polaris-note", default="")
    parser.add_argument("--only", default="schema,kube-score,checkov")
    args = parser.parse_args()

    files = sorted(p for p in args.dir.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    objects = load_objects(files)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="check-manifests-") as tmp:
        work = Path(tmp)
        for name, run in (
            ("schema", lambda: run_schema(files, args.kubernetes_validate, args.k8s_version)),
            ("kube-score", lambda: run_kube_score(objects, args.checks / "kube-score.yaml", args.kube_score, work)),
            ("checkov", lambda: run_checkov(objects, args.checks / "checkov.yaml", args.checks / ".checkov.yaml", args.checkov, work)),
        ):
            if name not in args.only.split(","):
                continue
            print(f"==> {name}: checking {len(objects)} objects from {len(files)} files", flush=True)
            row = run()
            for finding in row.findings:
                print(f"    {finding}")
            rows.append(row)
    if args.polaris_note and args.only == "schema,kube-score,checkov":
        rows.append(Row("polaris", note=args.polaris_note))

    print()
    print(f"{'tool':<38} {'run':>5} {'passed':>7} {'failed':>7} {'excepted':>9}  note")
    for r in rows:
        print(f"{r.tool:<38} {r.run:>5} {r.passed:>7} {r.failed:>7} {r.excepted:>9}  {r.note}")
    failed = sum(r.failed for r in rows)
    # Not "N passed, N failed": CI reads that shape as a test runner's verdict, and a run on the bad
    # fixtures is meant to find failures.
    print(f"totals: passed={sum(r.passed for r in rows)} failed={failed} excepted={sum(r.excepted for r in rows)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
