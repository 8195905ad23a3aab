// The slice of CPython's embedding API that GRLHFPython uses, as plain C with opaque pointers:
// Swift cannot use Python.h's macros (Py_None, Py_file_input), and Python.h itself must stay out
// of every header Swift sees (see Sources/CPython/shim.h). Strings are UTF-8; returned strings
// are malloc'd (free them).
#pragma once
#include <stddef.h>

/// A Python object (a PyObject *).
typedef struct grlhf_py_object grlhf_py_object;

/// The file of the libpython this process runs (dladdr on one of its functions), or NULL.
const char *grlhf_py_library_path(void);

/// X and Y of the libpython's version X.Y (safe before initialization).
void grlhf_py_version(int *major, int *minor);

/// Starts the interpreter with Python's usual configuration (PYTHONPATH, PYTHONHOME, an active
/// venv), `home` (when not NULL) as its home, no signal handlers (Ctrl-C stays the program's)
/// and unbuffered stdio (a reward's prints appear at once), then releases the GIL. Returns NULL,
/// or why it failed (static text).
const char *grlhf_py_initialize(const char *home);

int grlhf_py_is_initialized(void);

/// PyGILState_Ensure / PyGILState_Release.
int grlhf_py_gil_ensure(void);
void grlhf_py_gil_release(int state);

/// Runs `source` as the body of a new module `name` (registered in sys.modules) and returns it
/// (a new reference), or NULL with the error's text in *error. Hold the GIL.
grlhf_py_object *grlhf_py_module_from_source(const char *name, const char *source, char **error);

/// module.function(a, b, c) with string arguments (NULL ends the list early): its str(), or the
/// raised exception's text (with traceback) and *failed = 1. Hold the GIL.
char *grlhf_py_call(grlhf_py_object *module, const char *function, const char *a, const char *b, const char *c, int *failed);
