"""`strangler replay CORPUS --primary URL --candidate URL`: replay a captured corpus against both, write a report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from strangler_proxy.cli import exit_codes
from strangler_proxy.cli.output import json_option
from strangler_proxy.compare.jsonpath import parse_path
from strangler_proxy.compare.parity_report import verdict, write_reports
from strangler_proxy.compare.replay import read_corpus
from strangler_proxy.compare.replay import replay as run_replay
from strangler_proxy.dataplane.model import DEFAULT_COMPARED_HEADERS, CompareSettings
from strangler_proxy.errors import CorpusInvalid, JsonPathError, ReplayFailed


@click.command(epilog=exit_codes.epilog(exit_codes.REPLAY_CODES))
@click.argument("corpus", type=click.Path(path_type=Path))
@click.option("--primary", required=True, help="The reference, usually the monolith: http://host:port.")
@click.option("--candidate", required=True, help="The service under test: http://host:port.")
@click.option("--rate", type=click.FloatRange(min=0.1), default=20.0, show_default=True, help="Requests per second.")
@click.option("--unsafe", is_flag=True, help="Also replay POST/PUT/PATCH/DELETE (they write to BOTH sides).")
@click.option(
    "--noise",
    type=click.FloatRange(0, 1),
    default=0.1,
    show_default=True,
    help="Share of requests sent to the primary twice to learn noise (the first 10 always are).",
)
@click.option("--ignore", multiple=True, help="A JSON path never compared, e.g. '$.results[*].updated_at' (repeat).")
@click.option(
    "--headers",
    default=",".join(DEFAULT_COMPARED_HEADERS),
    show_default=True,
    help="Response headers compared (comma-separated).",
)
@click.option(
    "--report",
    "report_base",
    type=click.Path(path_type=Path),
    default=Path("parity-report"),
    show_default=True,
    help="Writes REPORT.md and REPORT.html.",
)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True, help="Seconds per request.")
@json_option
def replay(
    as_json: bool,
    corpus: Path,
    primary: str,
    candidate: str,
    rate: float,
    unsafe: bool,
    noise: float,
    ignore: tuple[str, ...],
    headers: str,
    report_base: Path,
    timeout: float,
) -> None:
    """Replay a recorded corpus (STRANGLER_CAPTURE_FILE) against two upstreams and write a parity report.

    Each request goes to the primary, then to the candidate, paced to --rate per second; only safe methods
    unless --unsafe. Fields that differ between two answers of the primary itself are noise and not counted.
    The report is written either way; the exit code is 8 when the candidate differs beyond noise.

    \b
    Examples:
      strangler replay corpus.jsonl --primary http://127.0.0.1:8000 --candidate http://127.0.0.1:8001
      strangler replay corpus.jsonl --primary ... --candidate ... --ignore '$..updated_at' --report out/catalog
    """
    for rule in ignore:
        try:
            parse_path(rule)
        except JsonPathError as exc:
            raise CorpusInvalid(f"--ignore: {exc}") from exc
    for url, flag in ((primary, "--primary"), (candidate, "--candidate")):
        if not url.startswith(("http://", "https://")):
            raise CorpusInvalid(f"{flag} {url!r} must be an http:// or https:// URL")
    requests = read_corpus(corpus)
    settings = CompareSettings(ignore=ignore, headers=tuple(h.strip().lower() for h in headers.split(",") if h.strip()))
    try:
        report = run_replay(
            requests,
            primary=primary,
            candidate=candidate,
            corpus=str(corpus),
            rate=rate,
            unsafe=unsafe,
            noise=noise,
            settings=settings,
            timeout=timeout,
        )
    except ReplayFailed as exc:  # nothing answered: exit 3 like any unreachable upstream of the CLI
        if as_json:
            click.echo(json.dumps({"error": exc.code, "detail": str(exc)}, indent=2))
        else:
            click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(exit_codes.UNREACHABLE)
    try:
        md_path, html_path = write_reports(report, report_base)
    except OSError as exc:
        raise CorpusInvalid(f"cannot write the report {report_base}: {exc}") from exc
    if as_json:
        click.echo(
            json.dumps({**report.as_dict(), "report": {"markdown": str(md_path), "html": str(html_path)}}, indent=2)
        )
    else:
        colour = "green" if report.differing == 0 else "red"
        click.secho(verdict(report), fg=colour)
        for f in report.fields[:5]:
            click.echo(f"  {f.field}: raw {f.raw}, noise {f.noise}, net {f.net}")
        click.echo(f"report: {md_path} and {html_path}")
    if report.differing:
        sys.exit(exit_codes.DIFFERENCES)
