"""A replay's parity report for developers: markdown (for a pull request) and HTML (for a browser).

Both say the same, top to bottom: the verdict in one line, the counts, the fields that differ most (raw, noise,
net per field, with one example request and the two values), then example requests with every difference.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from strangler_proxy.compare.replay import Example, ParityReport

TOP_FIELDS = 20
NOISE_NOTE = " <small>(noise, not counted)</small>"


def verdict(report: ParityReport) -> str:
    if report.differing == 0:
        return f"PARITY: {report.replayed} requests replayed, no net differences"
    share = report.differing / report.replayed if report.replayed else 0.0
    return f"DIFFERENCES: {report.differing} of {report.replayed} requests ({share:.1%}) differ beyond noise"


def cell_value(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value, ensure_ascii=False)


def _counts(report: ParityReport) -> list[tuple[str, int]]:
    return [
        ("replayed", report.replayed),
        ("equal", report.equal),
        ("differing only in noise", report.noise_only),
        ("differing (net)", report.differing),
        ("skipped: unsafe method (use --unsafe)", report.skipped_unsafe),
        ("skipped: body too large when recorded", report.skipped_truncated),
        ("failed to replay", report.failed),
    ]


def _example_for(report: ParityReport, name: str) -> tuple[str, str, str]:
    example: Example | None = report.first_example.get(name)
    if example is None:
        return "", "", ""
    diff = next((d for d in example.diffs if d.field == name), None)
    where = f"{example.method} {example.target}" + (f" at {diff.path}" if diff else "")
    return where, cell_value(diff.expected) if diff else "", cell_value(diff.actual) if diff else ""


def markdown(report: ParityReport) -> str:
    lines = [
        "# Parity report",
        "",
        f"**{verdict(report)}**",
        "",
        f"- corpus: `{report.corpus}`",
        f"- primary (reference): {report.primary}",
        f"- candidate: {report.candidate}",
        f"- time: {report.seconds:.1f} s",
        "",
        "| requests | count |",
        "|---|---:|",
        *[f"| {label} | {count} |" for label, count in _counts(report)],
        "",
        "## Top differing fields",
        "",
    ]
    if not report.fields:
        lines.append("No field differed.")
    else:
        lines += [
            "| field | raw | noise | net | example | primary | candidate |",
            "|---|---:|---:|---:|---|---|---|",
        ]
        for f in report.fields[:TOP_FIELDS]:
            where, expected, actual = _example_for(report, f.field)
            name = f"`{f.field}`" + (" (noise)" if f.is_noise else "")
            lines.append(f"| {name} | {f.raw} | {f.noise} | {f.net} | {_md(where)} | {_md(expected)} | {_md(actual)} |")
    noise = {f.field for f in report.fields if f.is_noise}
    if report.examples:
        lines += ["", "## Example requests that differ", ""]
        for e in report.examples:
            lines.append(f"### {e.method} `{e.target}` — status {e.expected_status} vs {e.actual_status}")
            lines.append("")
            lines += [
                f"- `{d.path}` ({d.kind}): primary {_md(cell_value(d.expected))}, candidate {_md(cell_value(d.actual))}"
                + (" — noise, not counted" if d.field in noise else "")
                for d in e.diffs
            ]
            lines.append("")
    if report.failures:
        lines += ["## Failures", "", *[f"- {_md(f)}" for f in report.failures[:20]], ""]
    return "\n".join(lines).rstrip() + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def html_page(report: ParityReport) -> str:
    e = html.escape
    rows = "".join(f"<tr><td>{e(label)}</td><td class=n>{count}</td></tr>" for label, count in _counts(report))
    fields = ""
    for f in report.fields[:TOP_FIELDS]:
        where, expected, actual = _example_for(report, f.field)
        mark = " <small>(noise)</small>" if f.is_noise else ""
        fields += (
            f"<tr><td><code>{e(f.field)}</code>{mark}</td><td class=n>{f.raw}</td><td class=n>{f.noise}</td>"
            f"<td class=n>{f.net}</td><td>{e(where)}</td><td><code>{e(expected)}</code></td>"
            f"<td><code>{e(actual)}</code></td></tr>"
        )
    noise = {f.field for f in report.fields if f.is_noise}
    examples = ""
    for ex in report.examples:
        items = "".join(
            f"<li><code>{e(d.path)}</code> ({e(d.kind)}): primary <code>{e(cell_value(d.expected))}</code>, "
            f"candidate <code>{e(cell_value(d.actual))}</code>{NOISE_NOTE if d.field in noise else ''}</li>"
            for d in ex.diffs
        )
        examples += (
            f"<h3>{e(ex.method)} <code>{e(ex.target)}</code> — status {ex.expected_status} vs "
            f"{ex.actual_status}</h3><ul>{items}</ul>"
        )
    ok = report.differing == 0
    field_table = (
        "<table><tr><th>field</th><th>raw</th><th>noise</th><th>net</th><th>example</th><th>primary</th>"
        f"<th>candidate</th></tr>{fields}</table>"
        if fields
        else "<p>No field differed.</p>"
    )
    return f"""<!doctype html>
<html lang=en><head><meta charset=utf-8><title>Parity report</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}}.n{{text-align:right}}
.ok{{color:#070}}.bad{{color:#b00}}</style></head><body>
<h1>Parity report</h1>
<p class={"ok" if ok else "bad"}><strong>{e(verdict(report))}</strong></p>
<p>corpus <code>{e(report.corpus)}</code> · primary (reference) {e(report.primary)} · candidate
{e(report.candidate)} · {report.seconds:.1f} s</p>
<table><tr><th>requests</th><th>count</th></tr>{rows}</table>
<h2>Top differing fields</h2>
{field_table}
{"<h2>Example requests that differ</h2>" + examples if examples else ""}
</body></html>
"""


def write_reports(report: ParityReport, base: Path) -> tuple[Path, Path]:
    """Write BASE.md and BASE.html; return their paths."""
    md_path = base.with_suffix(".md")
    html_path = base.with_suffix(".html")
    md_path.write_text(markdown(report), encoding="utf-8")
    html_path.write_text(html_page(report), encoding="utf-8")
    return md_path, html_path
