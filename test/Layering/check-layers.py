"""Checks the layering rules of docs/README.md.

Usage: check-layers.py LINK_CLOSURES SOURCE_ROOT

LINK_CLOSURES has one line per library, "Name: dep dep ...", the libraries
it links directly or through others (written by test/CMakeLists.txt at
configure time). The MLIR-free libraries must not reach MLIR or LLVM, the
runtime must not reach the compiler, and the compiler must not reach the
runtime. Their sources must not include headers across the same lines, and
the runtime's own files (the engine, packing, .anepak) include no backend's
headers.
Prints each broken rule and exits 1.
"""
import os
import re
import sys

# Library -> prefixes of libraries it must not link, even indirectly.
LINK_RULES = {
    "AneSupport": ["MLIR", "LLVM", "Ane"],
    "AneMIL": ["MLIR", "LLVM", "AneModel", "AneAbi", "AneRuntime", "AneCompile"],
    "AneModel": ["MLIR", "LLVM", "AneMIL", "AneAbi", "AneRuntime", "AneCompile"],
    "AneAbi": ["MLIR", "LLVM", "AneRuntime", "AneCompile", "AneMilDialect",
               "AneLlama"],
    "AneRuntime": ["MLIR", "LLVM", "AneCompile", "AneMilDialect", "AneLlama",
                   "AneMilExport", "AnePipelines"],
    "AneServe": ["MLIR", "LLVM", "AneCompile", "AneMilDialect", "AneLlama",
                 "AneMilExport", "AnePipelines"],
    "AneCompile": ["AneRuntime"],
    "AneMilDialect": ["AneRuntime"],
    "AneLlamaDialect": ["AneRuntime"],
}

# Folder -> include prefixes its sources must not use.
INCLUDE_RULES = {
    "lib/Support": ["mlir/", "llvm/", "lib/"],
    "lib/MIL": ["mlir/", "llvm/", "lib/Model", "lib/Abi", "lib/Runtime",
                "lib/Dialect", "lib/Conversion"],
    "lib/Model": ["mlir/", "llvm/", "lib/MIL", "lib/Abi", "lib/Runtime",
                  "lib/Dialect", "lib/Conversion"],
    "lib/Abi": ["mlir/", "llvm/", "lib/Runtime", "lib/Dialect",
                "lib/Conversion", "lib/Compile"],
    "lib/Runtime": ["mlir/", "llvm/", "lib/Dialect", "lib/Conversion",
                    "lib/Compile", "lib/Pipelines", "lib/Loader", "lib/CApi"],
    "lib/Serve": ["mlir/", "llvm/", "lib/Dialect", "lib/Conversion",
                  "lib/Compile", "lib/Pipelines", "lib/Runtime/Cpu",
                  "lib/Runtime/Ane", "lib/Loader", "lib/CApi"],
    "lib/Dialect": ["lib/Runtime", "lib/Compile", "lib/Serve"],
    "lib/Conversion": ["lib/Runtime", "lib/Compile"],
}
# lib/Support's own headers include each other.
ALLOWED = {"lib/Support": ["lib/Support/"]}
# The runtime's own files (not its backends') speak to backends through
# Backend.h only; the registry that creates them is the one exception.
BACKEND_FOLDERS = ["lib/Runtime/Cpu/", "lib/Runtime/Ane/"]
BACKEND_REGISTRY = "lib/Runtime/Backend.cpp"

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')


def check_links(path):
    errors = []
    closures = {}
    with open(path) as f:
        for line in f:
            name, _, deps = line.partition(":")
            closures[name.strip()] = deps.split()
    for lib, banned in LINK_RULES.items():
        if lib not in closures:
            errors.append(f"{path}: no link closure for {lib}")
            continue
        for dep in closures[lib]:
            if any(dep.startswith(b) for b in banned):
                errors.append(f"{lib} links {dep}")
    return errors


def check_includes(root):
    errors = []
    for folder, banned in INCLUDE_RULES.items():
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for name in files:
                if not name.endswith((".h", ".cpp")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                with open(path, errors="replace") as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        inc = m.group(1)
                        if any(inc.startswith(a)
                               for a in ALLOWED.get(folder, [])):
                            continue
                        if any(inc.startswith(b) for b in banned):
                            errors.append(f"{rel}:{n} includes {inc}")
    return errors


def check_backend_boundary(root):
    errors = []
    runtime = os.path.join(root, "lib/Runtime")
    for name in sorted(os.listdir(runtime)):
        rel = "lib/Runtime/" + name
        if not name.endswith((".h", ".cpp")) or rel == BACKEND_REGISTRY:
            continue
        with open(os.path.join(runtime, name), errors="replace") as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if m and any(m.group(1).startswith(b) for b in BACKEND_FOLDERS):
                    errors.append(f"{rel}:{n} includes {m.group(1)}")
    return errors


def main():
    errors = (check_links(sys.argv[1]) + check_includes(sys.argv[2]) +
              check_backend_boundary(sys.argv[2]))
    for e in errors:
        print("layering: " + e)
    print(f"{len(LINK_RULES)} link rules, {len(INCLUDE_RULES)} include rules, "
          f"1 backend boundary, {len(errors)} broken")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
