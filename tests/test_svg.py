"""approval.svg: pictures from files become inline markup that can run and load nothing."""

from __future__ import annotations

import re

import pytest

from approval.svg import MAX_BYTES, SvgRejected, sanitize

_SVG = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">{}</svg>'


def test_matplotlib_output_keeps_its_drawing_with_prefixed_ids() -> None:
    pytest.importorskip("matplotlib")
    import io

    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3, 2))
    axes = figure.subplots()
    axes.scatter([1, 2, 3], [3, 1, 2], rasterized=True)
    axes.plot([0, 3], [0, 3])
    axes.set_title("a title")
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as <text>, as evaluate.py
        FigureCanvasSVG(figure).print_svg(buffer, metadata={"Date": None})
    safe = sanitize(buffer.getvalue(), "pic")

    assert safe.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "a title" in safe
    assert "data:image/png;base64," in safe  # the rasterized points
    assert "<path" in safe and "<style" not in safe and "metadata" not in safe
    ids = re.findall(r' id="([^"]+)"', safe)
    assert ids and all(i.startswith("pic-") for i in ids)
    for reference in re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', safe):
        assert (reference[0] or reference[1]) in ids


@pytest.mark.parametrize(
    ("inner", "gone"),
    [
        ("<script>alert(1)</script>", "alert"),
        ('<rect onload="alert(1)"/>', "onload"),
        ('<a href="https://example.com/"><rect/></a>', "example.com"),
        ('<image href="https://example.com/x.png"/>', "example.com"),
        ('<image xlink:href="javascript:alert(1)"/>', "javascript"),
        ('<rect style="fill: url(https://example.com/x)"/>', "example.com"),
        ('<rect fill="url(//example.com/x#a)"/>', "example.com"),
        ('<rect style="background: \\75 rl(x)"/>', "\\75"),
        ("<style>*{display:none}</style>", "display"),
        ('<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>', "div"),
        ('<use href="https://example.com/s.svg#a"/>', "example.com"),
    ],
)
def test_what_could_run_or_load_is_removed(inner: str, gone: str) -> None:
    assert gone not in sanitize(_SVG.format(inner), "p")


def test_local_references_and_embedded_png_survive() -> None:
    png = "data:image/png;base64,iVBORw0KGgo="
    safe = sanitize(
        _SVG.format(
            '<defs><clipPath id="c"><rect width="1" height="1"/></clipPath></defs>'
            f'<g clip-path="url(#c)"><use xlink:href="#m"/><image xlink:href="{png}"/></g>'
        ),
        "p1",
    )
    assert 'id="p1-c"' in safe
    assert 'clip-path="url(#p1-c)"' in safe
    assert 'href="#p1-m"' in safe
    assert f'href="{png}"' in safe


def test_text_is_escaped() -> None:
    safe = sanitize(_SVG.format("<text>a &lt;b&gt; &amp; c</text>"), "p")
    assert "<text>a &lt;b&gt; &amp; c</text>" in safe


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not xml", "not well-formed"),
        ('<html xmlns="http://www.w3.org/1999/xhtml"/>', "not <svg>"),
        ('<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>', "entities"),
        (_SVG.format("<g>" + "x" * MAX_BYTES + "</g>"), "larger than"),
    ],
)
def test_refused_documents_say_why(text: str, reason: str) -> None:
    with pytest.raises(SvgRejected, match=re.escape(reason)):
        sanitize(text, "p")


def test_the_prefix_must_be_an_id() -> None:
    with pytest.raises(ValueError, match="id_prefix"):
        sanitize(_SVG.format(""), '"><script>')
