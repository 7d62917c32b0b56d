"""Pictures made elsewhere, made safe to inline in a page that runs no script.

The evaluation step renders its pictures as SVG files (matplotlib), which the review page
and the run report put inline. An SVG is markup: taken as is, it could carry a script, an
event handler, a link, a `<style>` that restyles the whole page, or a URL that loads
something from outside. So a picture is parsed and written back from an allow-list:
drawing elements and presentation attributes only; references only to the picture's own
ids (`#id`, `url(#id)`) or to an embedded PNG (`data:image/png;base64,`); no `<style>`
element, no metadata. Ids get a per-picture prefix, so several pictures share one page
without one's clip paths clipping another's.

Standard library only (the approval function imports nothing else). Refused input raises
`SvgRejected` naming the reason; the caller shows a note instead of the picture.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html import escape

#: Larger pictures are refused (a page embeds several, and they are stored with approvals).
MAX_BYTES = 512 * 1024

_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"

#: Elements kept (their children are checked too); any other element is dropped whole.
ELEMENTS = frozenset(
    {
        "svg", "g", "defs", "clipPath", "path", "rect", "circle", "ellipse", "line",
        "polyline", "polygon", "text", "tspan", "title", "desc", "use", "image",
    }
)  # fmt: skip
#: Attributes kept on any kept element; values are checked below.
ATTRIBUTES = frozenset(
    {
        "id", "d", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "width",
        "height", "viewBox", "transform", "points", "style", "clip-path", "href", "fill",
        "fill-opacity", "stroke", "stroke-width", "stroke-opacity", "stroke-linecap",
        "stroke-linejoin", "stroke-dasharray", "opacity", "font-size", "font-family",
        "font-weight", "text-anchor", "dominant-baseline", "preserveAspectRatio", "role",
        "aria-label", "version",
    }
)  # fmt: skip
_REFERENCE = re.compile(r"url\(\s*#([A-Za-z0-9_.:-]+)\s*\)")
_PNG = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=\s]+")
_LOCAL_ID = re.compile(r"#([A-Za-z0-9_.:-]+)")
#: What may never appear in a style or presentation value: any URL but url(#id), CSS
#: escapes and comments (which can hide one), at-rules, and old IE's expression().
_UNSAFE_VALUE = re.compile(r"\\|/\*|@|expression\s*\(|javascript:", re.IGNORECASE)


class SvgRejected(ValueError):
    """The picture cannot be shown safely; the message says why."""


def sanitize(text: str, id_prefix: str) -> str:
    """`text` (an SVG document) as inline `<svg>` markup that is safe in any page.

    `id_prefix` (letters, digits, '-') is put before every id and every reference to one.
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", id_prefix):
        raise ValueError(f"id_prefix {id_prefix!r}: expected a letter, then letters, digits, '-'")
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise SvgRejected(f"larger than {MAX_BYTES // 1024} KiB")
    if "<!ENTITY" in text:
        raise SvgRejected("declares XML entities")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise SvgRejected(f"not well-formed XML ({error})") from None
    if _local(root.tag) != "svg" or _namespace(root.tag) not in ("", _SVG_NS):
        raise SvgRejected(f"the document element is <{_local(root.tag)}>, not <svg>")
    return _write(root, id_prefix, is_root=True)


def _write(element: ET.Element, prefix: str, *, is_root: bool = False) -> str:
    tag = _local(element.tag)
    if tag not in ELEMENTS or _namespace(element.tag) not in ("", _SVG_NS):
        return ""
    attributes = [] if not is_root else [("xmlns", _SVG_NS)]
    for raw_name, value in element.attrib.items():
        name = "href" if raw_name == _XLINK_HREF else raw_name
        if name not in ATTRIBUTES:
            continue
        safe = _value(name, value, prefix)
        if safe is not None:
            attributes.append((name, safe))
    opening = tag + "".join(f' {name}="{escape(value, quote=True)}"' for name, value in attributes)
    inner = escape(element.text or "", quote=False)
    for child in element:
        inner += _write(child, prefix)
        inner += escape(child.tail or "", quote=False)
    return f"<{opening}>{inner}</{tag}>"


def _value(name: str, value: str, prefix: str) -> str | None:
    """The attribute's value with ids prefixed, or None to drop an unsafe one."""
    if name == "id":
        return f"{prefix}-{value}"
    if name == "href":
        local = _LOCAL_ID.fullmatch(value.strip())
        if local:
            return f"#{prefix}-{local.group(1)}"
        return value if _PNG.fullmatch(value.strip()) else None
    if _UNSAFE_VALUE.search(value):
        return None
    without_local = _REFERENCE.sub("", value)
    if "url(" in without_local.lower():
        return None
    return _REFERENCE.sub(lambda m: f"url(#{prefix}-{m.group(1)})", value)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _namespace(tag: str) -> str:
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""
