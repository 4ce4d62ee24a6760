#!/usr/bin/env python3
"""Liveness check for component fixtures: runs a component under wasmtime (PyPI package
`wasmtime`, `pip install wasmtime`) with every function import stubbed to record its calls
(returning 0), instantiates it (its start runs), then calls each named export in a fresh
instance and prints which imports ran.

Usage: scripts/run-component.py FILE.wat|FILE.wasm [EXPORT[#NESTED...][=INT_ARG] ...]
"""
import sys, wasmtime, wasmtime.component as c

path, exports = sys.argv[1], sys.argv[2:]
cfg = wasmtime.Config()
for k in ['wasm_function_references', 'wasm_gc', 'wasm_threads']:
    setattr(cfg, k, True)
engine = wasmtime.Engine(cfg)
wasm = wasmtime.wat2wasm(open(path).read()) if path.endswith('.wat') else open(path,'rb').read()
comp = c.Component(engine, wasm)
called = []
linker = c.Linker(engine)
ty = comp.type
def mk(name):
    def f(store, *args):
        called.append(name); return 0
    return f
with linker.root() as root:
    def add(li, prefix, item):
        item = getattr(item, 'ty', item)
        if isinstance(item, c.ComponentInstanceType):
            for fn, fi in item.exports(engine).items():
                fi = getattr(fi, 'ty', fi)
                if isinstance(fi, c.ComponentInstanceType):
                    with li.add_instance(fn) as sub:
                        add(sub, prefix + fn + "#", fi)
                elif isinstance(fi, c.FuncType):
                    li.add_func(fn, mk(prefix + fn))
    for name, item in ty.imports(engine).items():
        t = getattr(item, 'ty', item)
        if isinstance(t, c.FuncType):
            root.add_func(name, mk(f"$root#{name}"))
        else:
            with root.add_instance(name) as inst:
                add(inst, name + "#", t)
store = wasmtime.Store(engine)
instance = linker.instantiate(store, comp)
print("start:", sorted(set(called)))
for e in exports:
    # A fresh instance per export: a trap poisons the instance.
    store = wasmtime.Store(engine)
    instance = linker.instantiate(store, comp)
    called.clear()
    e, _, arg = e.partition('=')
    parts = e.split('#')
    idx = None
    for p in parts:
        idx = instance.get_export_index(store, p, idx)
    f = instance.get_func(store, idx)
    try:
        f(store, *([int(arg)] if arg else []))
    except Exception as ex:
        print(e, "trap:", str(ex).splitlines()[0])
    print(e + ":", sorted(set(called)))
