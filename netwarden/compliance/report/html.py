"""The HTML report: one self-contained, printable file (no CDN, no script, inline SVG charts).

Everything that comes from a device (hostnames, evidence lines, banners inside
evidence) reaches the page only through Jinja2 autoescaping; the page also
carries a Content-Security-Policy that forbids scripts, so even a mistake in a
template cannot run device-supplied code.

Examples:
    >>> env = environment()
    >>> env.from_string("{{ x }}").render(x="<script>alert(1)</script>")
    '&lt;script&gt;alert(1)&lt;/script&gt;'
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

from netwarden.compliance.report.summary import Summary

TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: f"{round(100 * float(v))}%"
    return env


def render_html(summary: Summary) -> str:
    return environment().get_template("report.html.j2").render(s=summary, run=summary.run)
