// See include/grlhf_python.h. Python.h comes first: it sets the feature macros it needs.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "grlhf_python.h"

const char *grlhf_py_library_path(void) {
    void *symbol = dlsym(RTLD_DEFAULT, "Py_InitializeFromConfig");
    Dl_info info;
    if (symbol == NULL || dladdr(symbol, &info) == 0) return NULL;
    return info.dli_fname;
}

void grlhf_py_version(int *major, int *minor) {
    const char *v = Py_GetVersion();   /* "3.11.2 (main, ...)" */
    *major = atoi(v);
    const char *dot = strchr(v, '.');
    *minor = dot ? atoi(dot + 1) : 0;
}

const char *grlhf_py_initialize(const char *home) {
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.parse_argv = 0;
    config.install_signal_handlers = 0;
    config.buffered_stdio = 0;
    PyStatus status = PyStatus_Ok();
    if (home != NULL) status = PyConfig_SetBytesString(&config, &config.home, home);
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) return status.err_msg ? status.err_msg : "Python failed to start";
    PyEval_SaveThread();   /* from here on the GIL is taken only around calls */
    return NULL;
}

int grlhf_py_is_initialized(void) { return Py_IsInitialized(); }
int grlhf_py_gil_ensure(void) { return (int)PyGILState_Ensure(); }
void grlhf_py_gil_release(int state) { PyGILState_Release((PyGILState_STATE)state); }

/// The pending exception as text (its traceback when the traceback module works), cleared.
static char *take_exception(void) {
    PyObject *type = NULL, *value = NULL, *tb = NULL;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *module = PyImport_ImportModule("traceback");
    PyObject *lines = module ? PyObject_CallMethod(module, "format_exception", "OOO", type ? type : Py_None,
                                                   value ? value : Py_None, tb ? tb : Py_None) : NULL;
    PyObject *empty = lines ? PyUnicode_FromString("") : NULL;
    PyObject *joined = empty ? PyUnicode_Join(empty, lines) : NULL;
    PyErr_Clear();
    PyObject *str = joined ? NULL : (value ? PyObject_Str(value) : NULL);
    const char *utf8 = joined ? PyUnicode_AsUTF8(joined) : (str ? PyUnicode_AsUTF8(str) : NULL);
    char *text = strdup(utf8 ? utf8 : "a Python exception that could not be formatted");
    PyErr_Clear();
    Py_XDECREF(str); Py_XDECREF(joined); Py_XDECREF(empty); Py_XDECREF(lines); Py_XDECREF(module);
    Py_XDECREF(type); Py_XDECREF(value); Py_XDECREF(tb);
    return text;
}

grlhf_py_object *grlhf_py_module_from_source(const char *name, const char *source, char **error) {
    *error = NULL;
    PyObject *module = PyImport_AddModule(name);   /* borrowed */
    if (module == NULL) { *error = take_exception(); return NULL; }
    Py_INCREF(module);
    PyObject *globals = PyModule_GetDict(module);  /* borrowed */
    if (PyDict_GetItemString(globals, "__builtins__") == NULL)
        PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins());
    PyObject *result = PyRun_String(source, Py_file_input, globals, globals);
    if (result == NULL) { *error = take_exception(); Py_DECREF(module); return NULL; }
    Py_DECREF(result);
    return (grlhf_py_object *)module;
}

char *grlhf_py_call(grlhf_py_object *module, const char *function, const char *a, const char *b, const char *c, int *failed) {
    *failed = 0;
    const char *given[3] = {a, b, c};
    int count = 0;
    while (count < 3 && given[count] != NULL) count++;
    PyObject *args = PyTuple_New(count);
    for (int i = 0; args != NULL && i < count; i++) {
        PyObject *s = PyUnicode_FromString(given[i]);
        if (s == NULL) { Py_CLEAR(args); break; }
        PyTuple_SET_ITEM(args, i, s);
    }
    PyObject *callable = args ? PyObject_GetAttrString((PyObject *)module, function) : NULL;
    PyObject *result = callable ? PyObject_Call(callable, args, NULL) : NULL;
    PyObject *str = result ? PyObject_Str(result) : NULL;
    const char *utf8 = str ? PyUnicode_AsUTF8(str) : NULL;
    char *out;
    if (utf8 != NULL) out = strdup(utf8);
    else { *failed = 1; out = take_exception(); }
    Py_XDECREF(str); Py_XDECREF(result); Py_XDECREF(callable); Py_XDECREF(args);
    return out;
}
