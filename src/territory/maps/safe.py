"""User text in map pages: never template source, never markup.

branca renders a page in two passes. Each element's macros are rendered with the element as
variables (safe), but ``MacroElement.render`` then wraps the *output* in ``Element(text)``,
whose constructor compiles ``text`` as a Jinja template; so a name containing ``{{ ... }}``
would be evaluated as Python and ``{#`` would stop the render. Two rules close that for every
page the maps write:

1. Nothing is compiled twice. The root of every map is a :class:`SafeFigure`; when it renders,
   every macro element in the tree (folium's and plugins' included) renders through
   :class:`SafeMacroElement`, which keeps macro output as :class:`Raw` text. Fixed assets are
   :class:`Raw` too.
2. User text reaches the page only through :func:`text` (HTML text and attributes) or
   :func:`script_json` (data inside ``<script>``). Neither leaves a ``{ } % # $ < > & ' "``
   or backtick of user text as that character, so no Jinja, HTML or JavaScript template
   delimiter can come from a name even if some code rendered the page again. In the browser,
   data is set into the DOM with ``textContent`` (see :mod:`territory.maps.points` and
   :mod:`territory.maps.editor`).

Layer names are plain text: :class:`territory.maps.elements.LayerControl` escapes them
(Leaflet inserts them as HTML), so pass names unescaped.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from branca.element import Element, Figure, MacroElement

# Characters that can start markup, an entity, a Jinja tag ({{ {% {#), a JS template
# substitution (${ and backticks) or a format string.
_SPECIAL = "&<>\"'`{}%#$"
_HTML = str.maketrans(
    {c: f"&#{ord(c)};" for c in _SPECIAL}
    | {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"}  # as html.escape
)
# Escaped everywhere in JSON (none occurs outside strings), braces inside strings only; a
# quote in a JSON string is always written \", so it needs no second escape.
_JS = {c: f"\\u{ord(c):04x}" for c in "&<>'`%#$\u2028\u2029"}
# A JSON string token: quote, then runs of plain characters or backslash escapes, quote.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


def text(value: Any) -> str:
    """``value`` as HTML text (safe in element content and quoted attributes).

    Like :func:`html.escape`, and also ``{ } % # $`` and the backtick become numeric character
    references, so the result holds no template delimiter; the browser shows it literally.
    """
    return str(value).translate(_HTML)


def _escape_braces(match: re.Match) -> str:
    token = match.group(0)
    if "{" in token or "}" in token:
        token = token.replace("{", "\\u007b").replace("}", "\\u007d")
    return token


def script_json(value: Any) -> str:
    """``value`` as JSON for a ``<script>`` element (also valid JavaScript).

    Inside every string, ``< > & ' { } % # $``, the backtick and the line separators are
    ``\\u00XX`` escapes: no ``</script>``, no markup and no template delimiter can appear, and
    ``JSON.parse`` or the JavaScript parser gives the original text back. Outside strings JSON
    has only brackets, numbers and literals (``{`` is always followed by ``"`` or ``}``).
    """
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        # member by member, so a long string value takes the quick path below
        return "{" + ",".join(f"{script_json(k)}:{script_json(v)}" for k, v in value.items()) + "}"
    dumped = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, code in _JS.items():  # none of these occurs outside a string
        if char in dumped:
            dumped = dumped.replace(char, code)
    if isinstance(value, str):  # one string token: every brace is in the string
        return dumped.replace("{", "\\u007b").replace("}", "\\u007d")
    return _STRING.sub(_escape_braces, dumped)


class Raw(Element):
    """Fixed text put into the page as it is (never compiled as a template)."""

    def __init__(self, text: str):
        super().__init__()
        self._name = "Raw"
        self.text = str(text)

    def render(self, **kwargs) -> str:
        return self.text


class SafeMacroElement(MacroElement):
    """A macro element whose rendered macros go into the page as text, not as templates.

    The same as branca's ``MacroElement.render`` except that the output of the ``header``,
    ``html`` and ``script`` macros is added as :class:`Raw`, and each child is made safe
    (:func:`protect`) before it renders.
    """

    def render(self, **kwargs):
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError("An element can only be rendered inside a Figure.")
        macros = self._template.module.__dict__
        for part in ("header", "html", "script"):
            macro = macros.get(part)
            if macro is not None:
                getattr(figure, part).add_child(Raw(macro(self, kwargs)), name=self.get_name())
        for element in list(self._children.values()):
            protect(element)
            element.render(**kwargs)


class _SafePopup:
    """folium's ``Popup.render``, with its rendered template kept as text."""

    def render(self, **kwargs):
        for element in list(self._children.values()):
            protect(element)
            element.render(**kwargs)
        out = Raw(self._template.render(this=self, kwargs=kwargs))
        self.get_root().script.add_child(out, name=self.get_name())


@cache
def _safe_class(cls: type) -> type:
    """``cls`` with :class:`SafeMacroElement` just above ``MacroElement`` in its MRO.

    ``class X(cls, SafeMacroElement)`` keeps every override of ``cls`` (their ``super().render``
    calls reach the safe render instead of branca's). folium's ``Popup`` renders without
    ``super()``, so it gets a safe ``render`` of its own.
    """
    import folium

    namespace: dict[str, Any] = {"__module__": cls.__module__, "__doc__": cls.__doc__,
                                 "_unsafe_class": cls}  # fmt: skip
    if isinstance(getattr(cls, "_includes", None), dict):  # folium Class: includes per class
        namespace["includes"] = property(lambda self: cls._includes[cls])
    first = (_SafePopup,) if issubclass(cls, folium.Popup) else ()
    return type(cls.__name__, (*first, cls, SafeMacroElement), namespace)


def protect(element: Element) -> None:
    """Make ``element`` render its macros as text (no-op for other elements)."""
    if isinstance(element, MacroElement) and not isinstance(element, SafeMacroElement):
        element.__class__ = _safe_class(type(element))


def unprotect(element: Element) -> None:
    """Give a protected element its own class back (after the page is rendered)."""
    original = type(element).__dict__.get("_unsafe_class")
    if original is not None:
        element.__class__ = original


def _walk(element: Element):
    yield element
    parts = [getattr(element, p, None) for p in ("header", "html", "script")]
    for child in [*element._children.values(), *(p for p in parts if isinstance(p, Element))]:
        if child is not element:
            yield from _walk(child)


class SafeFigure(Figure):
    """The page: while it renders, every macro element in it is made safe (:func:`protect`).

    Afterwards the elements have their own classes again (so they can still be pickled).
    """

    def render(self, **kwargs) -> str:
        for element in list(_walk(self)):
            protect(element)
        try:
            return super().render(**kwargs)
        finally:
            for element in list(_walk(self)):
                unprotect(element)
