"""Decode and encode the flat ``<xml>`` documents of API v2.

The decoder is built on expat and refuses, before any expansion, everything a merchant API never
needs: DOCTYPE and entity declarations (XXE, billion laughs), processing instructions other than
the XML declaration, nested elements, attributes, a root other than ``<xml>``, and bodies over the
size cap. Imports: codes, stdlib.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from xml.parsers import expat

MAX_BODY_BYTES = 64 * 1024
MAX_FIELDS = 256


class XmlError(ValueError):
    """The body is not a well-formed flat v2 XML document."""


class NotUtf8(ValueError):
    """The body is not valid UTF-8."""


class _Reader:
    __slots__ = ("fields", "depth", "current", "chunks", "parser")

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.depth = 0
        self.current: str | None = None
        self.chunks: list[str] = []
        parser = expat.ParserCreate("UTF-8")
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.chunks.append
        parser.StartDoctypeDeclHandler = self.refuse_doctype
        parser.EntityDeclHandler = self.refuse_entity
        parser.UnparsedEntityDeclHandler = self.refuse_entity
        parser.ExternalEntityRefHandler = self.refuse_external
        parser.ProcessingInstructionHandler = self.refuse_pi
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser = parser

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if attrs:
            raise XmlError(f"attributes are not allowed (on <{name}>)")
        self.depth += 1
        if self.depth == 1:
            if name != "xml":
                raise XmlError(f"the root element must be <xml>, not <{name}>")
        elif self.depth == 2:
            if "".join(self.chunks).strip():
                raise XmlError("text directly inside <xml>")
            self.current = name
            self.chunks.clear()
        else:
            raise XmlError(f"nested elements are not allowed (<{name}> inside <{self.current}>)")

    def end(self, name: str) -> None:
        if self.depth == 2:
            if name in self.fields:
                raise XmlError(f"element <{name}> appears twice")
            if len(self.fields) >= MAX_FIELDS:
                raise XmlError("too many elements")
            self.fields[name] = "".join(self.chunks)
            self.current = None
        elif self.depth == 1 and "".join(self.chunks).strip():
            raise XmlError("text directly inside <xml>")
        self.chunks.clear()
        self.depth -= 1

    def refuse_doctype(self, *_: object) -> None:
        raise XmlError("DOCTYPE declarations are not allowed")

    def refuse_entity(self, *_: object) -> None:
        raise XmlError("entity declarations are not allowed")

    def refuse_external(self, *_: object) -> int:
        raise XmlError("external entities are not allowed")

    def refuse_pi(self, target: str, data: str) -> None:
        raise XmlError("processing instructions are not allowed")


def decode(body: bytes) -> dict[str, str]:
    """Parse a request body into its fields, CDATA and escaped text alike, values untrimmed."""
    if len(body) > MAX_BODY_BYTES:
        raise XmlError(f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUtf8(str(exc)) from None
    reader = _Reader()
    try:
        reader.parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise XmlError(expat.errors.messages[exc.code] if exc.code else str(exc)) from None
    if reader.depth != 0:
        raise XmlError("document is incomplete")
    return reader.fields


def _cdata(value: str) -> str:
    # "]]>" cannot appear inside one CDATA section: split it across two.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def encode(fields: Mapping[str, str | int], *, bare: Iterable[str] = ()) -> bytes:
    """Render fields as WeChat does: strings in CDATA, integers bare, in the given order."""
    bare_names = set(bare)
    parts = ["<xml>"]
    for name, value in fields.items():
        if isinstance(value, int) or name in bare_names:
            parts.append(f"<{name}>{value}</{name}>")
        else:
            parts.append(f"<{name}>{_cdata(value)}</{name}>")
    parts.append("</xml>")
    return "".join(parts).encode("utf-8")
