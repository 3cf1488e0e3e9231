"""Seeded mutations of captured requests, for the reliability tests of both front ends.

Each mutation is one of the edits a broken or hostile client makes: flipped bits, a truncated
body, an element duplicated, dropped or renamed, attribute names and values swapped, huge
numbers, values of the wrong type, namespaces swapped, odd characters, long strings. Structural
edits work on an lxml tree (entities never resolved); a body that no longer parses gets byte
edits only. The same seed gives the same sequence of requests.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lxml import etree

HUGE_NUMBERS = ("18446744073709551616", "-1", "-9223372036854775809", "1e999", "NaN",
                "99999999999999999999999999999999999999999", "0x10", "+0", "4294967296",
                "65536", "340282366920938463463374607431768211456")
WRONG_TYPES = ("TRUE", "false", "", " ", "abc", "20241301999999.000000+000",
               "00000000000000.000000:000", "\u00e9\u00e8\u4e2d", "NULL", "<x/>", "&amp;",
               "1.5", "[]", "{}", "'; DROP TABLE jobs; --", "%s%s%n", "\\\\?\\C:\\x")
NAMESPACE_URIS = (
    "http://www.w3.org/2003/05/soap-envelope",
    "http://schemas.xmlsoap.org/soap/envelope/",
    "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "http://schemas.xmlsoap.org/ws/2004/09/enumeration",
    "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/Msvm_ComputerSystem",
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ComputerSystem",
    "urn:hvsim:nowhere",
)
CIM_NAMESPACE_PARTS = ("root", "virtualization", "v2", "interop", "HyperVCluster", "cimv2",
                       "..", "", "ROOT")
ODD_SNIPPETS = (b"\x00", b"\xff\xfe", b"\xc3\x28", b"]]>", b"<!--", b"<![CDATA[", b"&#0;",
                b"&#x110000;", b"&undefined;", b"<?pi?>", b"\r\n\r\n", b"\t", b'"', b"'",
                b"<", b">", b"</", b"/>", b"=")
# A mutant larger than this is cut back: the point is malformed input, not bulk (the hostile
# input tests cover size), and a few thousand megabyte requests would not fit a CI run.
MAX_MUTANT_BYTES = 256 * 1024
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                         huge_tree=False, remove_blank_text=False)


@dataclass(frozen=True)
class Mutant:
    body: bytes
    edits: tuple[str, ...]  # the names of the mutations applied, for failure messages


class Mutator:
    """mutate(body) -> Mutant, 1 to 3 edits chosen by a seeded generator.

    `value_share` and `shape_share` are the chances that an edit changes values (numbers,
    names, namespaces: the request stays well-formed and usually valid, so it reaches the
    operation) or the shape of the tree; the rest are byte edits. A strict parser (CIM-XML's
    DTD) refuses most shape edits, so its front end wants more value edits to test what lies
    behind the parser.
    """

    def __init__(self, seed: int, value_share: float = 0.4, shape_share: float = 0.35) -> None:
        self.random = random.Random(seed)
        self.value_share = value_share
        self.shape_share = shape_share
        self.value_edits: list[Callable[[etree._Element], str | None]] = [
            self.swap_values, self.huge_number, self.wrong_type, self.long_text,
            self.cim_namespace,
        ]
        self.shape_edits: list[Callable[[etree._Element], str | None]] = [
            self.duplicate_element, self.delete_element, self.rename_element,
            self.swap_elements, self.swap_namespace, self.nest_element,
            self.swap_attribute_names, self.drop_attribute,
        ]
        self.byte_edits: list[Callable[[bytes], tuple[str, bytes]]] = [
            self.flip_bits, self.truncate, self.insert_snippet, self.repeat_slice,
            self.delete_slice,
        ]

    def mutate(self, body: bytes) -> Mutant:
        edits: list[str] = []
        for _ in range(self.random.choice((1, 1, 1, 1, 2, 3))):
            roll = self.random.random()
            if roll < self.value_share + self.shape_share:
                kinds = self.value_edits if roll < self.value_share else self.shape_edits
                changed = self.tree_edit(body, kinds)
                if changed is not None:
                    name, body = changed
                    edits.append(name)
                    continue
            name, body = self.random.choice(self.byte_edits)(body)
            edits.append(name)
        if len(body) > MAX_MUTANT_BYTES:
            body = body[:MAX_MUTANT_BYTES]
            edits.append("cut")
        return Mutant(body, tuple(edits))

    # -- structural edits ------------------------------------------------------------------

    def tree_edit(self, body: bytes, kinds: Sequence[Callable[[etree._Element], str | None]]
                  ) -> tuple[str, bytes] | None:
        try:
            root = etree.fromstring(body, PARSER)
        except etree.XMLSyntaxError:
            return None
        for _ in range(4):  # an edit may find nothing to act on (no attributes, no text)
            edit = self.random.choice(kinds)
            name = edit(root)
            if name is not None:
                declaration = b'<?xml version="1.0" encoding="utf-8" ?>\n'
                keep = declaration if body.lstrip().startswith(b"<?xml") else b""
                return name, keep + etree.tostring(root)
        return None

    def _elements(self, root: etree._Element) -> list[etree._Element]:
        return [e for e in root.iter() if isinstance(e.tag, str)]

    def _pick(self, items: Sequence[etree._Element]) -> etree._Element:
        return items[self.random.randrange(len(items))]

    def duplicate_element(self, root: etree._Element) -> str | None:
        candidates = [e for e in self._elements(root) if e.getparent() is not None]
        if not candidates:
            return None
        element = self._pick(candidates)
        copies = self.random.choice((1, 1, 2, 50))
        for _ in range(copies):
            element.addnext(etree.fromstring(etree.tostring(element), PARSER))
        return f"duplicate<{etree.QName(element).localname}>x{copies}"

    def delete_element(self, root: etree._Element) -> str | None:
        candidates = [e for e in self._elements(root) if e.getparent() is not None]
        if not candidates:
            return None
        element = self._pick(candidates)
        parent = element.getparent()
        assert parent is not None
        parent.remove(element)
        return f"delete<{etree.QName(element).localname}>"

    def rename_element(self, root: etree._Element) -> str | None:
        elements = self._elements(root)
        element, other = self._pick(elements), self._pick(elements)
        old = element.tag
        element.tag = other.tag if other.tag != old else old + "X"
        return f"rename<{etree.QName(old).localname}>"

    def swap_elements(self, root: etree._Element) -> str | None:
        candidates = [e for e in self._elements(root) if e.getparent() is not None]
        if len(candidates) < 2:
            return None
        first, second = self._pick(candidates), self._pick(candidates)
        if first is second or first in second.iterancestors() or second in \
                first.iterancestors():
            return None
        first_parent, second_parent = first.getparent(), second.getparent()
        assert first_parent is not None and second_parent is not None
        placeholder = etree.Element("placeholder")
        first_parent.replace(first, placeholder)
        second_parent.replace(second, first)
        first_parent.replace(placeholder, second)
        return "swap-elements"

    def _attributed(self, root: etree._Element) -> list[etree._Element]:
        return [e for e in self._elements(root) if e.attrib]

    def swap_attribute_names(self, root: etree._Element) -> str | None:
        owners = self._attributed(root)
        if not owners:
            return None
        element = self._pick(owners)
        names = [n for e in owners for n in e.attrib]
        old = self.random.choice(list(element.attrib))
        new = self.random.choice(names)
        if new in element.attrib:
            return None
        element.attrib[new] = element.attrib.pop(old)
        return f"attribute-name {etree.QName(old).localname}->{etree.QName(new).localname}"

    def swap_values(self, root: etree._Element) -> str | None:
        """Text or attribute value of one place given to another (a name becomes a value...)."""
        values = [e.text for e in self._elements(root) if e.text and e.text.strip()]
        values += [v for e in self._attributed(root) for v in e.attrib.values()]
        if not values:
            return None
        return self._set_value(root, self.random.choice(values), "swap-value")

    def huge_number(self, root: etree._Element) -> str | None:
        return self._set_value(root, self.random.choice(HUGE_NUMBERS), "huge-number")

    def wrong_type(self, root: etree._Element) -> str | None:
        return self._set_value(root, self.random.choice(WRONG_TYPES), "wrong-type")

    def long_text(self, root: etree._Element) -> str | None:
        return self._set_value(root, "A" * self.random.choice((256, 4096, 65536)), "long-text")

    def _set_value(self, root: etree._Element, value: str, label: str) -> str | None:
        """Replace an attribute value or the text of an element that has text (so that an
        empty element such as CIM-XML's NAMESPACE keeps its shape)."""
        owners = self._attributed(root)
        texts = [e for e in self._elements(root) if e.text and e.text.strip() and len(e) == 0]
        if owners and (not texts or self.random.random() < 0.5):
            element = self._pick(owners)
            attribute = self.random.choice(list(element.attrib))
            element.attrib[attribute] = value
            return f"{label} @{etree.QName(attribute).localname}"
        if not texts:
            return None
        element = self._pick(texts)
        element.text = value
        return f"{label} <{etree.QName(element).localname}>"

    def swap_namespace(self, root: etree._Element) -> str | None:
        """Move an element into another XML namespace (SOAP 1.1, another WS-Man URI, ...)."""
        element = self._pick(self._elements(root))
        uri = self.random.choice(NAMESPACE_URIS)
        element.tag = etree.QName(uri, etree.QName(element).localname).text
        return f"namespace<{etree.QName(element).localname}>"

    def cim_namespace(self, root: etree._Element) -> str | None:
        """CIM-XML's namespaces are NAMESPACE elements: change, add or drop a part."""
        parts = [e for e in self._elements(root) if e.tag == "NAMESPACE"]
        if not parts:
            return None
        part = self._pick(parts)
        part.set("NAME", self.random.choice(CIM_NAMESPACE_PARTS))
        return "cim-namespace"

    def drop_attribute(self, root: etree._Element) -> str | None:
        owners = self._attributed(root)
        if not owners:
            return None
        element = self._pick(owners)
        name = self.random.choice(list(element.attrib))
        del element.attrib[name]
        return f"drop @{etree.QName(name).localname}"

    def nest_element(self, root: etree._Element) -> str | None:
        """An element wrapped in copies of itself, a few hundred deep."""
        candidates = [e for e in self._elements(root) if e.getparent() is not None]
        if not candidates:
            return None
        element = self._pick(candidates)
        depth = self.random.choice((2, 300))
        wrapper = element
        for _ in range(depth):
            outer = etree.Element(element.tag)
            parent = wrapper.getparent()
            assert parent is not None
            parent.replace(wrapper, outer)
            outer.append(wrapper)
            wrapper = outer
        return f"nest<{etree.QName(element).localname}>x{depth}"

    # -- byte edits --------------------------------------------------------------------------

    def _position(self, body: bytes) -> int:
        return self.random.randrange(len(body) + 1)

    def flip_bits(self, body: bytes) -> tuple[str, bytes]:
        data = bytearray(body)
        for _ in range(self.random.randint(1, 8)):
            if data:
                data[self.random.randrange(len(data))] ^= 1 << self.random.randrange(8)
        return "flip-bits", bytes(data)

    def truncate(self, body: bytes) -> tuple[str, bytes]:
        return "truncate", body[:self._position(body)]

    def insert_snippet(self, body: bytes) -> tuple[str, bytes]:
        at = self._position(body)
        return "insert-snippet", body[:at] + self.random.choice(ODD_SNIPPETS) + body[at:]

    def repeat_slice(self, body: bytes) -> tuple[str, bytes]:
        start = self._position(body)
        end = min(len(body), start + self.random.randint(1, 200))
        return "repeat-slice", body[:end] + body[start:end] * self.random.randint(1, 20) + \
            body[end:]

    def delete_slice(self, body: bytes) -> tuple[str, bytes]:
        start = self._position(body)
        return "delete-slice", body[:start] + body[start + self.random.randint(1, 64):]
