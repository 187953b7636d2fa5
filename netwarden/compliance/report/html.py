"""The HTML report: one self-contained, printable file (no CDN, no script, inline SVG charts).

Everything that comes from a device (hostnames, evidence lines, banners inside
evidence) reaches the page only through Jinja2 autoescaping; the page also
carries a Content-Security-Policy that forbids scripts, so even a mistake in a
template cannot run device-supplied code. Before escaping, every printed string
has its control characters and bidi overrides shown as ``\x1b``/``\u202e``
(:func:`netwarden.textsafe.printable`): a right-to-left override in a
description cannot make a line read differently from what it holds.

Examples:
    >>> env = environment()
    >>> env.from_string("{{ x }}").render(x="<script>alert(1)</script>")
    '&lt;script&gt;alert(1)&lt;/script&gt;'
    >>> env.from_string("{{ x }}").render(x="sw1\\u202e1ws\\x1b[2J")
    'sw1\\\\u202e1ws\\\\x1b[2J'
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2
import markupsafe

from netwarden.compliance.report.summary import Summary
from netwarden.textsafe import printable

TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
    )
    env.filters["pct"] = lambda v: "not assessed" if v is None else f"{round(100 * float(v))}%"
    return env


def _shown(value: object) -> object:
    """Every ``{{ }}`` value: a plain string gets its control characters escaped visibly."""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return printable(value)
    return value


def render_html(summary: Summary) -> str:
    return environment().get_template("report.html.j2").render(s=summary, run=summary.run)
