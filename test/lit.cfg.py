# -*- Python -*-
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "ANE"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
# "Unit" is a suite of its own (GoogleTest); do not exclude it here.
config.excludes = ["Inputs", "unittests", "CMakeLists.txt", "lit.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.ane_obj_root, "test")

# ane-sim keeps compiled programs; never in the user's ~/.cache from tests.
config.environment["ANE_CACHE_DIR"] = os.path.join(config.test_exec_root, "ane-cache")
config.environment["FILECHECK_OPTS"] = "-enable-var-scope --allow-unused-prefixes=false"
llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(
    ["ane-opt", "ane-translate", "ane-exec", "ane-capi-test"],
    [os.path.join(config.ane_obj_root, "bin")])

config.substitutions.append(("%ane_src_root", config.ane_src_root))
# Real data shared beside the repository; tests that use it fail loudly when it
# is missing rather than being skipped.
config.substitutions.append(
    ("%shared", os.path.normpath(os.path.join(config.ane_src_root, "..", "shared"))))
config.substitutions.append(("%ane_obj_root", config.ane_obj_root))

# Transparent huge pages for anonymous memory (Linux, "always" or "madvise"):
# tests of weights read into huge pages need them.
try:
    with open("/sys/kernel/mm/transparent_hugepage/enabled") as thp:
        modes = thp.read()
    if "[always]" in modes or "[madvise]" in modes:
        config.available_features.add("thp")
except OSError:
    pass
