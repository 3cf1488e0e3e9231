"""Write tests/data/server2019_schema.json from Microsoft's generated Server 2019 WMI bindings.

    python tools/extract_server2019_schema.py GIT_DIR tests/data/server2019_schema.json

GIT_DIR is a clone of github.com/microsoft/wmi. The bindings are Go code generated from a
Server 2019 host's classes: each class is a struct (its superclass embedded, one field per
property it declares) and each method a function whose signature marks every parameter
IN, OUT, IN/OUT or OPTIONAL IN and whose doc comment gives each parameter's WMI type. For every
class hvsim serves in a namespace (read from its MOF), its ancestors and the classes its
methods name, the file records what the host declares (see tests/unit/mof/test_server2019_schema.py
for the format).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

NAMESPACE_DIRS = {
    "root/virtualization/v2": "server2019/root/virtualization/v2",
    "root/HyperVCluster/v2": "server2019/root/hypervcluster/v2",
}
GO_TO_CIM = {
    "bool": "boolean", "int8": "sint8", "int16": "sint16", "int32": "sint32", "int64": "sint64",
    "uint8": "uint8", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64",
    "float32": "real32", "float64": "real64", "string": "string",
    "interface{}": "object",
}
CLASS_PREFIXES = ("CIM_", "Msvm_", "Win32_")
STRUCT_RE = re.compile(r"^type (\w+) struct \{\n(.*?)^\}", re.MULTILINE | re.DOTALL)
FIELD_RE = re.compile(r"^\t(\w+) (\[\])?(\S+)$", re.MULTILINE)
EMBED_RE = re.compile(r"^\t\*(\S+)$", re.MULTILINE)
PARAM_DOC_RE = re.compile(r'^// <param name="(\w+)" type="(\w+) ?(\[\])?">', re.MULTILINE)
ENUM_CONST_RE = re.compile(r"^\t\w+ (\w+) = (-?\d+)$", re.MULTILINE)
SIG_PARAM_RE = re.compile(r"/\* ?(IN|OUT|IN/OUT|OPTIONAL IN) ?\*/ (\w+) ")


class Bindings:
    def __init__(self, git_dir: str, directory: str) -> None:
        self.git_dir = git_dir
        self.directory = directory
        listing = subprocess.run(
            ["git", "-C", git_dir, "ls-tree", "--name-only", "HEAD", directory + "/"],
            check=True, capture_output=True, text=True).stdout.split()
        self.files = {p.rsplit("/", 1)[1][:-3] for p in listing if p.endswith(".go")}
        self._sources: dict[str, str] = {}

    def source(self, name: str) -> str:
        if name not in self._sources:
            self._sources[name] = subprocess.run(
                ["git", "-C", self.git_dir, "show", f"HEAD:{self.directory}/{name}.go"],
                check=True, capture_output=True, text=True).stdout
        return self._sources[name]

    def has_class(self, name: str) -> bool:
        return name in self.files and f"type {name} struct" in self.source(name)

    def enum_values(self, typedef: str) -> list[int]:
        return sorted({int(v) for t, v in ENUM_CONST_RE.findall(self.source(typedef))
                       if t == typedef})

    def type_of(self, go_type: str, array: bool) -> str:
        """A compact type: a CIM type name, "enum" (an integer with a value map; the bindings
        do not keep its width), or a class name (a reference or an embedded instance of it)."""
        if go_type in GO_TO_CIM:
            shape = GO_TO_CIM[go_type]
        elif self.has_class(go_type) or "." in go_type or go_type.startswith(CLASS_PREFIXES):
            # pkg.Class: a class of another namespace; a prefixed name absent from the
            # namespace: the host still declares the reference to it
            shape = go_type.rsplit(".", 1)[-1]
        elif go_type in self.files:
            shape = "enum"
        else:
            raise ValueError(f"unknown type {go_type}")
        return shape + "[]" if array else shape

    def declared(self, name: str) -> dict[str, Any]:
        """The class as its own file declares it (no inherited members)."""
        text = self.source(name)
        match = next(m for m in STRUCT_RE.finditer(text) if m.group(1) == name)
        body = match.group(2)
        embeds = [e for e in EMBED_RE.findall(body) if not e.startswith("cim.")]
        properties = {f: self.type_of(t, bool(a)) for f, a, t in sorted(FIELD_RE.findall(body))}
        return {"superclass": embeds[0] if embeds else None, "properties": properties,
                "methods": self._methods(name, text)}

    def _methods(self, name: str, text: str) -> dict[str, Any]:
        methods: dict[str, Any] = {}
        # Each method: its doc block (param lines), then `func (instance *X) Name(...) (...) {`
        pattern = re.compile(
            r"((?:^//[^\n]*\n|^\n)*)^func \(instance \*" + name + r"\) (\w+)\(([^{]*?)\) \(result",
            re.MULTILINE | re.DOTALL)
        for doc, method, signature in pattern.findall(text):
            if method.startswith(("SetProperty", "GetProperty")):
                continue
            docs = {p: (t, bool(a)) for p, t, a in PARAM_DOC_RE.findall(doc)}
            parameters: dict[str, Any] = {}
            for direction, param in SIG_PARAM_RE.findall(signature):
                go_type, array = docs[param]
                flow = ("in" if "IN" in direction else "") + ("out" if "OUT" in direction else "")
                parameters[param] = f"{flow} {self.type_of(go_type, array)}"
            return_type, _ = docs.get("ReturnValue", ("uint32", False))
            methods[method] = {"return": GO_TO_CIM.get(return_type, return_type),
                               "parameters": dict(sorted(parameters.items()))}
        return dict(sorted(methods.items()))

    def lineage(self, name: str) -> list[str]:
        chain = [name]
        while (parent := self.declared(chain[-1])["superclass"]) is not None:
            chain.append(parent)
        return chain


def served_classes() -> dict[str, list[str]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.mof_schema import class_names, compile_namespaces

    compiled = compile_namespaces()
    return {ns: sorted(class_names(compiled, ns)) for ns in NAMESPACE_DIRS}


def main(git_dir: str, out_json: str) -> None:
    served = served_classes()
    commit = subprocess.run(["git", "-C", git_dir, "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    result: dict[str, Any] = {"_about": (
        f"Generated by tools/extract_server2019_schema.py from github.com/microsoft/wmi at "
        f"{commit}: {', '.join(NAMESPACE_DIRS.values())}")}
    for namespace, directory in NAMESPACE_DIRS.items():
        bindings = Bindings(git_dir, directory)
        classes: dict[str, Any] = {}
        pending = sorted(served[namespace])
        while pending:
            name = pending.pop()
            if name in classes:
                continue
            if not bindings.has_class(name):
                print(f"{namespace}: {name} not in the bindings", file=sys.stderr)
                continue
            for member in bindings.lineage(name):
                classes[member] = declared = bindings.declared(member)
                # the classes its methods name belong to the namespace's schema too
                pending += [t.split()[-1].removesuffix("[]")
                            for m in declared["methods"].values()
                            for t in m["parameters"].values()
                            if t.split()[-1].startswith(CLASS_PREFIXES)]
        result[namespace] = dict(sorted(classes.items()))
    Path(out_json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
