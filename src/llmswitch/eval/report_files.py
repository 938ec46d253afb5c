"""Machine-readable outputs (results JSON, CSV, JUnit XML) and ``--baseline`` comparison.

Files are written to a temporary name and renamed, so an interrupted run never leaves half a file.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from ..errors import ConfigError
from .results import CellResult, Results

__all__ = ["FORMATS", "apply_baseline", "load_baseline", "render", "write"]


def _json(results: Results) -> str:
    return json.dumps(results.as_dict(), ensure_ascii=False, indent=2) + "\n"


def _first_output(result: CellResult) -> str:
    return result.runs[0].output.text if result.runs else ""


def _csv(results: Results) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["test", "prompt", "target", "model", "status", "pass_rate", "threshold", "score", "baseline",
                     "latency_s", "ttft_s", "cost_usd", "cached", "output", "reason"])
    for result in results.cells:
        cell = result.cell
        first = result.runs[0].output if result.runs else None
        writer.writerow([
            cell.test.label, cell.prompt.label, cell.target.label, cell.target.model, result.status,
            "" if result.pass_rate is None else f"{result.pass_rate:.4g}", cell.test.threshold,
            "" if result.score is None else f"{result.score:.4g}", result.baseline or "",
            "" if first is None or first.latency is None else f"{first.latency:.4f}",
            "" if first is None or first.ttft is None else f"{first.ttft:.4f}",
            f"{result.cost_usd:.6g}", "" if first is None else first.cached, _first_output(result),
            result.reason or "",
        ])
    return buffer.getvalue()


def _junit(results: Results) -> str:
    """One ``testsuite`` per target, one ``testcase`` per test × prompt (Jenkins/Ant JUnit shape)."""
    suite = results.suite
    many_prompts = len(suite.prompts) > 1
    root = ET.Element("testsuites", name=f"llmswitch eval: {suite.source}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for target in suite.targets:
        mine = [r for r in results.cells if r.cell.target is target]
        counts = {"tests": len(mine), "failures": sum(r.status == "fail" for r in mine),
                  "errors": sum(r.status == "error" for r in mine), "skipped": sum(r.status == "skipped" for r in mine)}
        seconds = sum(run.output.latency or 0.0 for r in mine for run in r.runs)
        attributes = {"name": target.label, "timestamp": results.started_at[:19], "time": f"{seconds:.3f}",
                      **{k: str(v) for k, v in counts.items()}}
        node = ET.SubElement(root, "testsuite", attributes)
        for result in mine:
            cell = result.cell
            name = f"{cell.test.label} [{cell.prompt.label}]" if many_prompts else cell.test.label
            latency = sum(run.output.latency or 0.0 for run in result.runs)
            case = ET.SubElement(node, "testcase", name=name, classname=f"eval.{target.label}", time=f"{latency:.3f}")
            details = "\n".join(f"run {run.index + 1}: {'pass' if a.passed else 'FAIL'} {a.type}: {a.reason}"
                                for run in result.runs for a in run.assertions)
            if result.status == "fail":
                ET.SubElement(case, "failure", message=result.reason or "failed", type="assertion").text = details
            elif result.status == "error":
                ET.SubElement(case, "error", message=result.reason or "error", type="call").text = details
            elif result.status == "skipped":
                ET.SubElement(case, "skipped", message=result.reason or "not run")
            if result.runs:
                ET.SubElement(case, "system-out").text = _first_output(result)
        for key in totals:
            totals[key] += counts[key]
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", str(totals["errors"]))
    root.set("time", f"{results.duration_s:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _html(results: Results) -> str:
    from .report_html import render_html

    return render_html(results)


FORMATS = {".json": _json, ".csv": _csv, ".xml": _junit, ".html": _html, ".htm": _html}


def render(results: Results, path: Path) -> str:
    return FORMATS[path.suffix.lower()](results)


def write(results: Results, path: Path) -> None:
    text = render(results, path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def load_baseline(path: Path) -> dict[tuple[str, str, str], str]:
    """An earlier results file's status by (test, prompt, target); read before the run, so a bad file costs nothing."""
    try:
        old: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return {(c["test"], c["prompt"], c["target"]): c["status"] for c in old["cells"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a results file from `llmswitch eval -o FILE.json` ({exc})") from None


def apply_baseline(results: Results, before: dict[tuple[str, str, str], str]) -> None:
    """Mark each cell against the same cell (test, prompt, target) of the earlier run."""
    for result in results.cells:
        cell = result.cell
        previous = before.get((cell.test.label, cell.prompt.label, cell.target.label))
        if result.status == "skipped":
            continue
        if previous is None or previous == "skipped":
            result.baseline = "new"
        elif (previous == "pass") == (result.status == "pass"):
            result.baseline = "same"
        else:
            result.baseline = "improvement" if result.status == "pass" else "regression"
