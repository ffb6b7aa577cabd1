"""Decode and encode the flat ``<xml>`` documents of API v2.

The decoder is built on expat and refuses, before any expansion, everything a merchant API never
needs: DOCTYPE and entity declarations (XXE, billion laughs), processing instructions other than
the XML declaration, nested elements, attributes, a root other than ``<xml>``, and bodies over the
size cap.
"""

from __future__ import annotations

import re
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


#: One field in the shape nearly every client sends: ``<name>text</name>`` with no markup,
#: entity or ``]`` in the text, or ``<name><![CDATA[text]]></name>`` with no ``]`` inside.
_FIELD = (
    r"<(?P<name>[A-Za-z_][A-Za-z0-9_]*)>"
    r"(?:<!\[CDATA\[(?P<cdata>[^\]]*)\]\]>|(?P<plain>[^<&\]]*))</(?P=name)>"
)
_SIMPLE_DOCUMENT = re.compile(r"[ \t\n]*<xml>([ \t\n]*(?:" + _FIELD + r"[ \t\n]*)*)</xml>[ \t\n]*")
_SIMPLE_FIELD = re.compile(_FIELD)
#: What expat treats differently from the text itself: line ends it normalises (CR) and
#: characters XML forbids (C0 controls but TAB and LF, U+FFFE, U+FFFF). Looked for in the UTF-8
#: bytes: a C0 control is one byte there and never part of another character, and U+FFFE/U+FFFF
#: are EF BF BE/BF; ``bytes.translate`` and ``in`` scan at C speed, a character class does not.
_C0_BUT_TAB_LF = bytes(range(0x09)) + bytes(range(0x0B, 0x20))
_NONCHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")


def _verbatim(body: bytes) -> bool:
    if len(body.translate(None, _C0_BUT_TAB_LF)) != len(body):
        return False
    return b"\xef\xbf" not in body or not any(n in body for n in _NONCHARACTERS)


def _decode_simple(text: str, body: bytes | None = None) -> dict[str, str] | None:
    """The fields of a document in the common simple shape, exactly as expat would read them;
    None for anything else (expat then reads it, or refuses it with the precise reason).
    ``body`` is ``text`` as UTF-8 (encoded here when not given)."""
    document = _SIMPLE_DOCUMENT.fullmatch(text)
    if document is None or not _verbatim(text.encode() if body is None else body):
        return None
    found = _SIMPLE_FIELD.findall(document.group(1))
    if len(found) > MAX_FIELDS:
        return None
    fields = {name: cdata or plain for name, cdata, plain in found}
    if len(fields) != len(found):  # an element twice: let expat say so
        return None
    return fields


def decode(body: bytes) -> dict[str, str]:
    """Parse a request body into its fields, CDATA and escaped text alike, values untrimmed."""
    if len(body) > MAX_BODY_BYTES:
        raise XmlError(f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUtf8(str(exc)) from None
    simple = _decode_simple(text, body)
    if simple is not None:
        return simple
    return _decode_expat(body)


def _decode_expat(body: bytes) -> dict[str, str]:
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
    bare_names = bare if isinstance(bare, (frozenset, set)) else set(bare)
    parts = ["<xml>"]
    for name, value in fields.items():
        if value.__class__ is str and name not in bare_names and "]]>" not in value:
            parts.append(f"<{name}><![CDATA[{value}]]></{name}>")  # the common case, inlined
        elif isinstance(value, int) or name in bare_names:
            parts.append(f"<{name}>{value}</{name}>")
        else:
            parts.append(f"<{name}>{_cdata(value)}</{name}>")
    parts.append("</xml>")
    return "".join(parts).encode("utf-8")
