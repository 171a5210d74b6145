"""HTML building blocks of the report: escaping, a little Markdown, sortable tables, embedded images."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: Rows at most in one embedded table; longer tables say so and name the full file.
MAX_ROWS = 500


@dataclass
class Table:
    """A table to embed: the frame, how to show each column, and where the full version lives."""

    frame: pd.DataFrame
    source: str = ""
    total: int | None = None
    hover: Mapping[str, str] = field(default_factory=dict)  # column -> column holding its hover text
    caption: str = ""


# ---- HTML building blocks ----------------------------------------------------------------------------------


def esc(value) -> str:
    """Text escaped for HTML."""
    return html.escape(str(value), quote=True)


def codes(values: Iterable) -> str:
    """Values as comma-separated ``<code>`` spans."""
    return ", ".join(f"<code>{esc(value)}</code>" for value in values)


def inline_markdown(text: str) -> str:
    """Escape text and render `code` spans (the only inline markup the workflow's texts use)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(text))


def markdown_to_html(text: str) -> str:
    """Render the workflow's own markdown (headings, bullet and numbered lists, paragraphs, `code`)."""
    out, list_tag = [], None
    for line in text.splitlines():
        heading = re.match(r"^(#{1,4}) (.*)", line)
        bullet = re.match(r"^- (.*)", line)
        numbered = re.match(r"^(\d+)\. (.*)", line)
        tag = "ul" if bullet else "ol" if numbered else None
        if list_tag and tag != list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None
        if heading:
            level = min(len(heading.group(1)) + 3, 6)
            out.append(f"<h{level}>{inline_markdown(heading.group(2))}</h{level}>")
        elif tag:
            if list_tag is None:
                out.append(f"<{tag}>")
                list_tag = tag
            item = bullet.group(1) if bullet else numbered.group(2)
            value = "" if bullet else f' value="{numbered.group(1)}"'
            out.append(f"<li{value}>{inline_markdown(item)}</li>")
        elif line.strip():
            out.append(f"<p>{inline_markdown(line)}</p>")
    if list_tag:
        out.append(f"</{list_tag}>")
    return "\n".join(out)


def format_cell(value) -> tuple[str, str]:
    """(shown text, sort key) of a cell: numbers to 4 significant digits, missing as empty."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "", ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)), str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{value:,}".replace(",", "\u2009"), str(value)
    if isinstance(value, (float, np.floating)):
        shown = f"{value:.3g}" if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5) else f"{value:.4g}"
        return shown, repr(float(value))
    return str(value), ""


def table_html(table: Table, table_id: str) -> str:
    """A sortable, filterable table; numbers carry a ``data-sort`` key so they sort as numbers."""
    frame = table.frame
    total = len(frame) if table.total is None else table.total
    hidden = set(table.hover.values())
    columns = [c for c in frame.columns if c not in hidden]
    head = "".join(f'<th scope="col" title="click to sort">{esc(c)}</th>' for c in columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for column in columns:
            shown, key = format_cell(row[column])
            content = esc(shown)
            if column in table.hover and pd.notna(row[table.hover[column]]):
                content = f'<abbr title="{esc(row[table.hover[column]])}">{content}</abbr>'
            sort = f' data-sort="{esc(key)}"' if key else ""
            wrap = ' class="long"' if len(shown) > 30 else ""
            cells.append(f"<td{sort}{wrap}>{content}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    shown_note = f"{len(frame)} of {total} rows" if total > len(frame) else f"{total} rows"
    source = f'; full table: <code>{esc(table.source)}</code>' if table.source else ""
    caption = f"<p class='caption'>{inline_markdown(table.caption)}</p>" if table.caption else ""
    return (f'<div class="table-block" id="{esc(table_id)}">{caption}'
            f'<div class="table-tools"><input type="search" class="filter" placeholder="filter rows" '
            f'aria-label="filter rows of this table"> <span class="count" data-total="{len(frame)}">'
            f"{shown_note}</span>{source}</div>"
            f'<div class="table-scroll"><table class="data sortable"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div></div>')


def image_html(path: str | Path, caption: str, results_root: Path) -> str:
    """A PNG embedded as a data URI, with its caption and the path of its PNG/SVG files."""
    path = Path(path)
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    try:
        shown = path.relative_to(results_root.parent)
    except ValueError:
        shown = path
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{esc(caption)}" loading="eager">'
            f"<figcaption>{inline_markdown(caption)} <code>{esc(shown)}</code> (SVG alongside)</figcaption>"
            "</figure>")


def limited(frame: pd.DataFrame, source: str, max_rows: int = MAX_ROWS, **kwargs) -> Table:
    """A :class:`Table` of the first ``max_rows`` rows of ``frame`` that remembers the full length."""
    return Table(frame.head(max_rows), source=source, total=len(frame), **kwargs)
