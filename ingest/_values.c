/*
 * ingest._values: checks that msgpack bytes hold only what JSON can carry, without
 * building a single Python object. Used on every received batch before it is
 * acknowledged (see ingest/values.py, which documents the rules), so it must keep pace
 * with the scan: one pass over the bytes, an explicit stack, no allocation.
 *
 * check(data, max_depth) -> (status, offset)
 *   status >= 0: the bytes are one well-formed msgpack value. Bits say what must be
 *     normalized before storing: NONFINITE (a NaN or infinite float), BAD_UTF8 (a string
 *     that is not valid UTF-8). offset is 0.
 *   status < 0: a refusal (the REFUSE_* codes below); offset is where it was found.
 *
 * Every read is bounds-checked against the buffer; counts read from the bytes are never
 * used to allocate.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define NONFINITE 1
#define BAD_UTF8 2

#define REFUSE_TRUNCATED -1
#define REFUSE_EXTRA -2
#define REFUSE_BINARY -3
#define REFUSE_EXTENSION -4
#define REFUSE_KEY -5
#define REFUSE_DEPTH -6
#define REFUSE_RESERVED -7

#define MAX_STACK 1024

typedef struct {
    uint64_t remaining; /* items left in this container (keys and values for maps) */
    int map;
} level;

static uint64_t read_be(const unsigned char *p, int n) {
    uint64_t value = 0;
    for (int i = 0; i < n; i++) value = (value << 8) | p[i];
    return value;
}

/* Well-formed UTF-8 as Unicode defines it (Table 3-7): no overlong forms, no
 * surrogates, nothing above U+10FFFF. This is what Python's strict decoder accepts. */
static int valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        /* ASCII runs, eight bytes at a time. */
        while (i + 8 <= n) {
            uint64_t chunk;
            memcpy(&chunk, s + i, 8);
            if (chunk & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= n) break;
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return 0;
        }
        if (n - i - 1 < need) return 0;
        if (s[i + 1] < lo || s[i + 1] > hi) return 0;
        for (size_t k = 2; k <= need; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return 0;
        }
        i += need + 1;
    }
    return 1;
}

static PyObject *result(int status, Py_ssize_t offset) {
    return Py_BuildValue("(in)", status, offset);
}

/* Walks one msgpack value; the status as `check` returns it, and in *at the offset of
 * a refusal. */
static int walk(const unsigned char *buf, const size_t len, const int max_depth, size_t *at) {
    level stack[MAX_STACK];
    int depth = 0;
    int flags = 0;
    int status = 0;
    size_t pos = 0;

    for (;;) {
        if (pos >= len) {
            status = REFUSE_TRUNCATED;
            break;
        }
        const size_t start = pos;
        const int key = depth > 0 && stack[depth - 1].map && stack[depth - 1].remaining % 2 == 0;
        const unsigned char c = buf[pos++];
        size_t skip = 0;    /* payload bytes after the type byte(s) */
        int string = 0;     /* the payload is a string to validate */
        uint64_t items = 0; /* for containers: how many items follow */
        int container = 0;  /* 1 array, 2 map */

        if (c <= 0x7F || c >= 0xE0) {
            /* positive or negative fixint */
        } else if (c <= 0x8F) {
            container = 2;
            items = c & 0x0F;
        } else if (c <= 0x9F) {
            container = 1;
            items = c & 0x0F;
        } else if (c <= 0xBF) {
            string = 1;
            skip = c & 0x1F;
        } else {
            switch (c) {
            case 0xC0: case 0xC2: case 0xC3:
                break;
            case 0xC1:
                status = REFUSE_RESERVED;
                break;
            case 0xC4: case 0xC5: case 0xC6:
                status = REFUSE_BINARY;
                break;
            case 0xC7: case 0xC8: case 0xC9:
            case 0xD4: case 0xD5: case 0xD6: case 0xD7: case 0xD8:
                status = REFUSE_EXTENSION;
                break;
            case 0xCA:
                if (len - pos < 4) {
                    status = REFUSE_TRUNCATED;
                } else if (((buf[pos] & 0x7F) << 1 | buf[pos + 1] >> 7) == 0xFF) {
                    flags |= NONFINITE;
                }
                skip = 4;
                break;
            case 0xCB:
                if (len - pos < 8) {
                    status = REFUSE_TRUNCATED;
                } else if (((buf[pos] & 0x7F) << 4 | buf[pos + 1] >> 4) == 0x7FF) {
                    flags |= NONFINITE;
                }
                skip = 8;
                break;
            case 0xCC: case 0xD0: skip = 1; break;
            case 0xCD: case 0xD1: skip = 2; break;
            case 0xCE: case 0xD2: skip = 4; break;
            case 0xCF: case 0xD3: skip = 8; break;
            case 0xD9: case 0xDA: case 0xDB: {
                const int width = c == 0xD9 ? 1 : c == 0xDA ? 2 : 4;
                if (len - pos < (size_t)width) {
                    status = REFUSE_TRUNCATED;
                    break;
                }
                skip = (size_t)read_be(buf + pos, width);
                pos += width;
                string = 1;
                break;
            }
            case 0xDC: case 0xDD: case 0xDE: case 0xDF: {
                const int width = (c == 0xDC || c == 0xDE) ? 2 : 4;
                if (len - pos < (size_t)width) {
                    status = REFUSE_TRUNCATED;
                    break;
                }
                items = read_be(buf + pos, width);
                pos += width;
                container = c <= 0xDD ? 1 : 2;
                break;
            }
            }
        }
        if (status < 0) {
            pos = start;
            break;
        }
        if (key && !string) {
            status = REFUSE_KEY;
            pos = start;
            break;
        }
        if (len - pos < skip) {
            status = REFUSE_TRUNCATED;
            pos = start;
            break;
        }
        if (string && !valid_utf8(buf + pos, skip)) flags |= BAD_UTF8;
        pos += skip;

        if (container) {
            if (depth >= max_depth) {
                status = REFUSE_DEPTH;
                pos = start;
                break;
            }
            if (items > 0) {
                stack[depth].remaining = container == 2 ? items * 2 : items;
                stack[depth].map = container == 2;
                depth++;
                continue;
            }
        }
        /* One item is complete: count it in its container, closing finished ones. */
        while (depth > 0 && --stack[depth - 1].remaining == 0) depth--;
        if (depth == 0) break;
    }
    *at = pos;
    if (status < 0) return status;
    if (pos != len) return REFUSE_EXTRA;
    return flags;
}

/* Buffers above this size are walked without holding the interpreter lock; for
 * smaller ones, giving the lock up and taking it back would cost more than the walk. */
#define UNLOCKED_BYTES (64 * 1024)

static PyObject *check(PyObject *self, PyObject *args) {
    Py_buffer view;
    int max_depth;
    if (!PyArg_ParseTuple(args, "y*i", &view, &max_depth)) return NULL;
    if (max_depth < 0 || max_depth > MAX_STACK) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "max_depth must be from 0 to 1024");
        return NULL;
    }
    size_t at = 0;
    int status;
    if (view.len > UNLOCKED_BYTES) {
        Py_BEGIN_ALLOW_THREADS
        status = walk(view.buf, (size_t)view.len, max_depth, &at);
        Py_END_ALLOW_THREADS
    } else {
        status = walk(view.buf, (size_t)view.len, max_depth, &at);
    }
    PyBuffer_Release(&view);
    return result(status, status < 0 ? (Py_ssize_t)at : 0);
}

static PyMethodDef methods[] = {
    {"check", check, METH_VARARGS,
     "check(data, max_depth) -> (status, offset): see ingest/values.py."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_values", "Checks msgpack bytes hold only what JSON can carry.",
    -1, methods,
};

PyMODINIT_FUNC PyInit__values(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddIntConstant(m, "NONFINITE", NONFINITE) < 0 ||
        PyModule_AddIntConstant(m, "BAD_UTF8", BAD_UTF8) < 0 ||
        PyModule_AddIntConstant(m, "REFUSE_TRUNCATED", REFUSE_TRUNCATED) < 0 ||
        PyModule_AddIntConstant(m, "REFUSE_EXTRA", REFUSE_EXTRA) < 0 ||
        PyModule_AddIntConstant(m, "REFUSE_BINARY", REFUSE_BINARY) < 0 ||
        PyModule_AddIntConstant(m, "REFUSE_EXTENSION", REFUSE_EXTENSION) < 0 ||
        PyModule_AddIntConstant(m, "REFUSE_KEY", REFUSE_KEY) < 0 ||
        PyModule_AddIntConstant(m, "REFUSE_DEPTH", REFUSE_DEPTH) < 0 ||
        PyModule_AddIntConstant(m, "REFUSE_RESERVED", REFUSE_RESERVED) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
