# -*- Python -*-
import os

import lit.formats

config.name = "ANE-Unit"
config.suffixes = []
config.test_exec_root = os.path.join(config.ane_obj_root, "test", "unittests")
config.test_source_root = config.test_exec_root
# Every GoogleTest binary is named *Tests; tests find ../shared through this.
config.test_format = lit.formats.GoogleTest(".", "Tests")
config.environment["ANE_SOURCE_DIR"] = config.ane_src_root
