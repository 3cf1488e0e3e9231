"""Rebuild ``cimxml/`` from the shared wire captures of pywbem, pywbemcli and sblim wbemcli.

Run from the worktree root: ``python -m tests.reliability.corpus.build_cimxml_corpus
../shared/wire``. Each captured request becomes ``<client>__<operation>__<n>.http``: the two
headers that route a CIM-XML request (CIMMethod, CIMObject), a blank line, then the body.
Credentials and other headers are dropped; the capture fixture's names are mapped onto the demo
cluster; identical requests from several clients are kept once.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path
from urllib.parse import unquote

CLIENTS = ("pywbem", "pywbemcli", "wbemcli")
HERE = Path(__file__).parent / "cimxml"
RENAMES = [("HOST-A", "HV-01"), ("HOST-B", "HV-02"), ('"vsms"', '"migrationwmi"'),
           (">vsms<", ">migrationwmi<"), ("&quot;vsms&quot;", "&quot;migrationwmi&quot;")]
REQUEST = re.compile(r"^=+ request (\d+) \(client -> server\) =+\n(.*?)(?=^-+ response )",
                     re.MULTILINE | re.DOTALL)


def requests_of(capture: Path) -> list[tuple[int, dict[str, str], str]]:
    found = []
    for match in REQUEST.finditer(capture.read_text()):
        head, _, body = match.group(2).partition("\n\n")
        headers = {}
        for line in head.splitlines()[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        found.append((int(match.group(1)), headers, body.rstrip("\n")))
    return found


def rename(text: str) -> str:
    for old, new in RENAMES:
        text = text.replace(old, new)
    return text


def main(wire: Path) -> None:
    HERE.mkdir(exist_ok=True)
    seen: set[str] = set()
    for client in CLIENTS:
        for capture in sorted((wire / client).glob("*.txt")):
            for number, headers, body in requests_of(capture):
                if "cimmethod" not in headers or not body.strip():
                    continue
                body = rename(body)
                method = headers["cimmethod"]
                cim_object = rename(unquote(headers.get("cimobject", "")))
                digest = hashlib.sha256(f"{method}\n{cim_object}\n{body}".encode()).hexdigest()
                if digest in seen:
                    continue
                seen.add(digest)
                name = f"{client}__{capture.stem}__{number}.http"
                (HERE / name).write_text(
                    f"CIMMethod: {method}\nCIMObject: {cim_object}\n\n{body}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
