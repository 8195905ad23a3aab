// libpython3's headers, found through pkg-config's python3-embed (Debian: libpython3-dev). Swift
// never imports this module: CPythonShim includes Python.h in its C file only, because Python.h
// sets feature macros (_GNU_SOURCE, ...) that make system types such as fd_set disagree with
// other Clang modules in the same Swift file. This target exists for the include and link flags,
// so only what links GRLHFPython (the grlhf command line) links libpython; libgrlhf.so never does.
#pragma once
#include <Python.h>
