#!/usr/bin/env python3
"""List the imports and exports of wasm files, for checking the corpus ground truth.

Usage: list-imports.py FILE.wasm...

Core modules: every import as `module.name (kind)` and every export.
Components: only the top-level imports/exports (the interfaces the component
asks the host for, e.g. wasi:filesystem/types@0.2.x), not nested modules.
Standard library only; it is a checking aid, not a full parser.
"""
import sys

CORE_MAGIC = b"\0asm\x01\0\0\0"
COMPONENT_MAGIC = b"\0asm\x0d\0\x01\0"


class Reader:
    def __init__(self, data, pos=0):
        self.data, self.pos = data, pos

    def byte(self):
        b = self.data[self.pos]
        self.pos += 1
        return b

    def u32(self):
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return result

    def name(self):
        n = self.u32()
        s = self.data[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def sections(self):
        while self.pos < len(self.data):
            sid, size = self.byte(), self.u32()
            yield sid, Reader(self.data[self.pos:self.pos + size])
            self.pos += size


def core_limits(r):
    flags = r.byte()
    r.u32()
    if flags & 1:
        r.u32()


def core(data):
    imports, exports = [], []
    for sid, r in Reader(data, 8).sections():
        if sid == 2:  # import section
            for _ in range(r.u32()):
                mod, name, kind = r.name(), r.name(), r.byte()
                if kind == 0x00:
                    r.u32()
                elif kind == 0x01:
                    r.byte()
                    core_limits(r)
                elif kind == 0x02:
                    core_limits(r)
                elif kind == 0x03:
                    r.byte()
                    r.byte()
                else:
                    raise ValueError(f"unsupported import kind {kind:#x}")
                imports.append(f"{mod}.{name} ({['func', 'table', 'memory', 'global'][kind]})")
        elif sid == 7:  # export section
            for _ in range(r.u32()):
                name, kind = r.name(), r.byte()
                r.u32()
                exports.append(f"{name} ({['func', 'table', 'memory', 'global', 'tag'][kind]})")
    return imports, exports


def component_name(r):
    if r.byte() not in (0x00, 0x01):
        raise ValueError("unsupported component extern name")
    return r.name()


def component_externdesc(r):
    kind = r.byte()
    if kind == 0x00:
        r.byte()  # 0x11 core module
        r.u32()
    elif kind in (0x01, 0x04, 0x05):
        r.u32()
    elif kind == 0x02:
        if r.byte() == 0x00:
            r.u32()
    elif kind == 0x03:
        if r.byte() == 0x00:
            r.u32()
    else:
        raise ValueError(f"unsupported externdesc {kind:#x}")
    return ["core module", "func", "value", "type", "component", "instance"][kind]


def component(data):
    imports, exports = [], []
    for sid, r in Reader(data, 8).sections():
        if sid == 10:  # import section
            for _ in range(r.u32()):
                name = component_name(r)
                imports.append(f"{name} ({component_externdesc(r)})")
        elif sid == 11:  # export section
            for _ in range(r.u32()):
                name = component_name(r)
                sort = r.byte()
                if sort == 0x00:
                    r.byte()
                r.u32()
                kind = ["core", "func", "value", "type", "component", "instance"][sort]
                if r.byte() == 0x01:
                    kind = component_externdesc(r)
                exports.append(f"{name} ({kind})")
    return imports, exports


def main(paths):
    for path in paths:
        data = open(path, "rb").read()
        if data.startswith(CORE_MAGIC):
            kind, (imports, exports) = "core module", core(data)
        elif data.startswith(COMPONENT_MAGIC):
            kind, (imports, exports) = "component", component(data)
        else:
            print(f"{path}: not a wasm module or component", file=sys.stderr)
            return 1
        print(f"{path}: {kind}, {len(data)} bytes")
        for i in imports:
            print(f"  import {i}")
        for e in exports:
            print(f"  export {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
