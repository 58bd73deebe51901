/* The byte loops of dataprep.text.native: lines and paragraphs found, normalised and hashed, and
 * texts rebuilt without some of them, in one pass over an Arrow string buffer each.
 *
 * Each function is the exact twin of a NumPy reference in the package (unit_bounds +
 * normal_form_bytes + span_hash_pair, and cut_units): the same units, the same two 64-bit hashes
 * bit for bit, the same rebuilt bytes, on any bytes (invalid UTF-8 included), so that workers
 * with and without this module agree.  tests/text/test_native.py holds them to it.  Buffers come
 * in through the buffer protocol (NumPy arrays allocated by the caller); the GIL is released
 * while a loop runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* span_hash_pair's two rounds: (position key, first and second multiplier) */
static const uint64_t KEY0 = 0x9E3779B97F4A7C15ULL, M10 = 0xFF51AFD7ED558CCDULL, M20 = 0xC4CEB9FE1A85EC53ULL;
static const uint64_t KEY1 = 0xD6E8FEB86659FD93ULL, M11 = 0xBF58476D1CE4E5B9ULL, M21 = 0x94D049BB133111EBULL;

static inline uint64_t mix(uint64_t j, uint64_t chunk, uint64_t key, uint64_t m1, uint64_t m2) {
    uint64_t x = (j * key) ^ chunk;
    x *= m1;
    x ^= x >> 32;
    x *= m2;
    x ^= x >> 29;
    return x;
}

static inline uint64_t fmix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 33;
    return h;
}

/* LOWER: the ASCII lower case of a byte.  NORMAL: bytes below 0xC0 in the normal form: ASCII
 * white space (9-13, 28-32) as 32, A-Z lower-cased, the rest as they are.  Set up at import. */
static uint8_t NORMAL[256], LOWER[256];

static void init_tables(void) {
    for (int c = 0; c < 256; c++) {
        int space = (c >= 9 && c <= 13) || (c >= 28 && c <= 32);
        LOWER[c] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        NORMAL[c] = space ? 32 : LOWER[c];
    }
}

/* The other white-space code points of the normal form (dataprep.dedup.unit_hashes.UNICODE_SPACE) */
static inline int unicode_space(uint32_t cp) {
    if (cp < 0x1680) return cp == 0x85 || cp == 0xA0;
    if (cp < 0x2000) return cp == 0x1680;
    if (cp <= 0x200A) return 1;
    return cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* The byte length of the white-space character that starts at data[i] (a byte >= 0xC0), or 0.
 * Decoded as multibyte_codepoints does, after ASCII lower case: the length from the first byte
 * alone, each later byte's low six bits whatever its high two, bytes past the end read as zero. */
static inline int64_t wide_space_at(const uint8_t *data, int64_t n, int64_t i) {
    uint32_t b0 = data[i];
    uint32_t b1 = i + 1 < n ? LOWER[data[i + 1]] & 0x3F : 0;
    uint32_t b2 = i + 2 < n ? LOWER[data[i + 2]] & 0x3F : 0;
    uint32_t b3 = i + 3 < n ? LOWER[data[i + 3]] & 0x3F : 0;
    uint32_t cp;
    int64_t length;
    if (b0 < 0xE0) {
        cp = ((b0 & 0x1F) << 6) | b1;
        length = 2;
    } else if (b0 < 0xF0) {
        cp = ((b0 & 0x0F) << 12) | (b1 << 6) | b2;
        length = 3;
    } else {
        cp = ((b0 & 0x07) << 18) | (b1 << 12) | (b2 << 6) | b3;
        length = 4;
    }
    return unicode_space(cp) ? length : 0;
}

/* Blanks inside a paragraph break: space, tab, VT, FF, CR */
static inline int blank(uint8_t c) { return c == 32 || c == 9 || c == 11 || c == 12 || c == 13; }

/* The next break at or after `from` in [from, end): sets *stop to its end and returns its start,
 * or returns end (and *stop = end) when none is left.  A line break is one line feed; a
 * paragraph break a line feed followed by one or more lines of only blanks (PARAGRAPH_BREAK). */
static inline int64_t next_break(const uint8_t *data, int64_t from, int64_t end, int paragraph, int64_t *stop) {
    int64_t i = from;
    while (i < end) {
        const uint8_t *nl = memchr(data + i, '\n', (size_t)(end - i));
        if (nl == NULL) break;
        i = nl - data;
        if (!paragraph) {
            *stop = i + 1;
            return i;
        }
        int64_t k = i + 1, last = -1;
        for (;;) {
            while (k < end && blank(data[k])) k++;
            if (k < end && data[k] == '\n') {
                last = k;
                k++;
            } else {
                break;
            }
        }
        if (last >= 0) {
            *stop = last + 1;
            return i;
        }
        i++;
    }
    *stop = end;
    return end;
}

typedef struct {
    const uint8_t *data;
    int64_t n;            /* bytes of the whole buffer */
    int64_t space_until;  /* the bytes before this position that a wide space covers are white space */
    uint8_t *out;         /* room for the normal form of the longest unit */
} Scan;

/* The end of the white space that runs from a wide space's bytes [from, until): wide spaces whose
 * first byte lies inside extend it, as the union of their bytes does in normal_form_bytes. */
static inline int64_t wide_run_end(const Scan *s, int64_t from, int64_t until) {
    for (int64_t j = from; j < until && j < s->n; j++) {
        if (s->data[j] >= 0xC0) {
            int64_t wide = wide_space_at(s->data, s->n, j);
            if (wide && j + wide > until) until = j + wide;
        }
    }
    return until;
}

static inline uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* The normal form of data[start:stop) (ASCII lower case, white-space runs one space, trimmed)
 * written to out; returns its byte length.  Not inlined: alone, the loop keeps its write position
 * in a register (inlined, it was spilled, and every byte waited on the store before). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int64_t normal_form(Scan *s, int64_t start, int64_t stop) {
    const uint8_t *data = s->data;
    uint8_t *out = s->out;
    int64_t o = 0, i = start;
    if (s->space_until > i) {  /* a wide space of the unit before reaches into this one: leading, dropped */
        s->space_until = wide_run_end(s, i, s->space_until);
        i = s->space_until;
    }
    int after_space = 1;  /* leading white space is dropped, and a run after its first byte */
    while (i < stop) {
        uint8_t c = data[i];
        if (c < 0xC0) {  /* without a branch on white space, which text makes unpredictable */
            uint8_t m = NORMAL[c];
            int space = m == 32;
            out[o] = m;
            o += !(space & after_space);
            after_space = space;
            i++;
            continue;
        }
        int64_t wide = wide_space_at(data, s->n, i);
        if (!wide) {
            out[o++] = c;
            after_space = 0;
            i++;
            continue;
        }
        s->space_until = wide_run_end(s, i + 1, i + wide);
        if (!after_space) out[o++] = 32;
        after_space = 1;
        i = s->space_until;
    }
    if (o && out[o - 1] == 32) o--;  /* every 32 written is white space: the trailing one goes */
    return o;
}

/* span_hash_pair of out[0:length) (length > 0) */
static inline void hash_pair(const uint8_t *out, int64_t length, uint64_t *h1, uint64_t *h2) {
    uint64_t a = 0, b = 0;
    int64_t full = length >> 3, k;
    for (k = 0; k < full; k++) {
        uint64_t chunk = load64(out + 8 * k);
        a += mix((uint64_t)k, chunk, KEY0, M10, M20);
        b += mix((uint64_t)k, chunk, KEY1, M11, M21);
    }
    if (length & 7) {
        uint8_t last[8] = {0};
        memcpy(last, out + 8 * full, (size_t)(length & 7));
        uint64_t chunk = load64(last);
        a += mix((uint64_t)k, chunk, KEY0, M10, M20);
        b += mix((uint64_t)k, chunk, KEY1, M11, M21);
    }
    *h1 = fmix64(a + (uint64_t)length * KEY0);
    *h2 = fmix64(b + (uint64_t)length * KEY1);
}

/* Whether offsets[0..texts] rise from 0 to at most n (else the loops would read outside data). */
static int offsets_valid(const int64_t *offsets, int64_t texts, int64_t n) {
    if (texts < 0 || offsets[0] < 0) return 0;
    for (int64_t t = 0; t < texts; t++)
        if (offsets[t + 1] < offsets[t]) return 0;
    return offsets[texts] <= n;
}

static int get_buffer(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, int writable, const char *name) {
    if (PyObject_GetBuffer(obj, view, (writable ? PyBUF_WRITABLE : 0) | PyBUF_C_CONTIGUOUS) < 0) return -1;
    if (view->itemsize != itemsize) {
        PyErr_Format(PyExc_TypeError, "%s: items of %zd bytes expected, got %zd", name, itemsize, view->itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

#define N_ITEMS(view) ((view).len / (view).itemsize)

/* The six buffers of a call, those from `writable` on writable; on failure none is held. */
static int get_six(PyObject *const objs[6], Py_buffer views[6], const char *const names[6],
                   const Py_ssize_t sizes[6], int writable) {
    for (int k = 0; k < 6; k++) {
        if (get_buffer(objs[k], &views[k], sizes[k], k >= writable, names[k]) < 0) {
            while (k--) PyBuffer_Release(&views[k]);
            return -1;
        }
    }
    return 0;
}

static void release_six(Py_buffer views[6]) {
    for (int k = 0; k < 6; k++) PyBuffer_Release(&views[k]);
}

static PyObject *count_byte(PyObject *self, PyObject *args) {
    PyObject *data_obj;
    int byte;
    if (!PyArg_ParseTuple(args, "Oi:count_byte", &data_obj, &byte)) return NULL;
    Py_buffer data;
    if (get_buffer(data_obj, &data, 1, 0, "data") < 0) return NULL;
    int64_t count = 0;
    Py_BEGIN_ALLOW_THREADS
    const uint8_t *p = data.buf, want = (uint8_t)byte;
    for (Py_ssize_t i = 0; i < data.len; i++) count += p[i] == want;
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    return PyLong_FromLongLong(count);
}

static PyObject *unit_hashes(PyObject *self, PyObject *args) {
    PyObject *objs[6];
    int paragraph;
    if (!PyArg_ParseTuple(args, "OOpOOOO:unit_hashes", &objs[0], &objs[1], &paragraph, &objs[2], &objs[3], &objs[4],
                          &objs[5]))
        return NULL;
    static const char *const names[6] = {"data", "offsets", "h1", "h2", "text", "index"};
    static const Py_ssize_t sizes[6] = {1, 8, 8, 8, 8, 8};
    Py_buffer views[6];
    if (get_six(objs, views, names, sizes, 2) < 0) return NULL;
    const uint8_t *data = views[0].buf;
    const int64_t *offsets = views[1].buf;
    int64_t texts = N_ITEMS(views[1]) - 1, capacity = N_ITEMS(views[2]);
    uint64_t *h1 = views[2].buf, *h2 = views[3].buf;
    int64_t *text = views[4].buf, *index = views[5].buf;
    int64_t written = 0;
    int overflow = 0;
    const char *bad = NULL;
    if (N_ITEMS(views[3]) != capacity || N_ITEMS(views[4]) != capacity || N_ITEMS(views[5]) != capacity)
        bad = "unit_hashes: h1, h2, text and index need the same number of items";
    else if (!offsets_valid(offsets, texts, views[0].len))
        bad = "unit_hashes: offsets must rise from 0 to at most the bytes' length";
    if (bad) {
        release_six(views);
        PyErr_SetString(PyExc_ValueError, bad);
        return NULL;
    }
    int64_t longest = 0;
    for (int64_t t = 0; t < texts; t++)
        if (offsets[t + 1] - offsets[t] > longest) longest = offsets[t + 1] - offsets[t];
    Scan scan = {data, views[0].len, 0, PyMem_RawMalloc((size_t)longest + 1)};
    if (scan.out == NULL) {
        release_six(views);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    for (int64_t t = 0; t < texts && !overflow; t++) {
        int64_t at = offsets[t], end = offsets[t + 1], unit = 0;
        for (;;) {
            int64_t stop, brk = next_break(data, at, end, paragraph, &stop);
            int64_t length = normal_form(&scan, at, brk);
            if (length > 0) {
                if (written == capacity) {
                    overflow = 1;
                    break;
                }
                hash_pair(scan.out, length, &h1[written], &h2[written]);
                text[written] = t;
                index[written] = unit;
                written++;
            }
            unit++;
            if (brk == end) break;
            at = stop;
        }
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(scan.out);
    release_six(views);
    if (overflow) {
        PyErr_SetString(PyExc_ValueError, "unit_hashes: the output arrays hold fewer items than the units found");
        return NULL;
    }
    return PyLong_FromLongLong(written);
}

static PyObject *cut_units(PyObject *self, PyObject *args) {
    PyObject *objs[6];
    int paragraph;
    if (!PyArg_ParseTuple(args, "OOOOpOO:cut_units", &objs[0], &objs[1], &objs[2], &objs[3], &paragraph, &objs[4],
                          &objs[5]))
        return NULL;
    static const char *const names[6] = {"data", "offsets", "first", "units", "out", "out_offsets"};
    static const Py_ssize_t sizes[6] = {1, 8, 8, 8, 1, 8};
    Py_buffer views[6];
    if (get_six(objs, views, names, sizes, 4) < 0) return NULL;
    const uint8_t *data = views[0].buf;
    const int64_t *offsets = views[1].buf, *first = views[2].buf, *units = views[3].buf;
    int64_t texts = N_ITEMS(views[1]) - 1, n_units = N_ITEMS(views[3]);
    uint8_t *out = views[4].buf;
    int64_t *out_offsets = views[5].buf;
    int64_t written = 0, bad_text = -1;
    const char *bad = NULL;
    if (N_ITEMS(views[2]) != texts + 1 || N_ITEMS(views[5]) != texts + 1 || views[4].len < views[0].len)
        bad = "cut_units: first and out_offsets need one item per text and one more, out as many bytes as data";
    else if (!offsets_valid(offsets, texts, views[0].len))
        bad = "cut_units: offsets must rise from 0 to at most the bytes' length";
    Py_BEGIN_ALLOW_THREADS
    for (int64_t t = 0; t < texts && !bad; t++) {
        out_offsets[t] = written;
        int64_t at = offsets[t], end = offsets[t + 1], unit = 0, k = first[t], last = first[t + 1];
        int64_t kept_break_at = -1, kept_break_stop = -1;  /* the break after the last unit written */
        if (k < 0 || last > n_units || k > last) {
            bad = "cut_units: first is not a range of units";
            break;
        }
        for (;;) {
            int64_t stop, brk = next_break(data, at, end, paragraph, &stop);
            int drop = 0;
            while (k < last && units[k] <= unit) drop |= units[k++] == unit;  /* ascending, maybe repeated */
            if (!drop) {
                if (kept_break_at >= 0) {
                    memcpy(out + written, data + kept_break_at, (size_t)(kept_break_stop - kept_break_at));
                    written += kept_break_stop - kept_break_at;
                }
                memcpy(out + written, data + at, (size_t)(brk - at));
                written += brk - at;
                kept_break_at = brk;
                kept_break_stop = stop;
            }
            unit++;
            if (brk == end) break;
            at = stop;
        }
        if (k < last) {
            bad = "a unit index beyond its text's units";
            bad_text = t;
        }
    }
    Py_END_ALLOW_THREADS
    if (!bad) out_offsets[texts] = written;
    release_six(views);
    if (bad) {
        if (bad_text >= 0) {
            PyErr_Format(PyExc_ValueError, "%s (text %lld)", bad, (long long)bad_text);
        } else {
            PyErr_SetString(PyExc_ValueError, bad);
        }
        return NULL;
    }
    return PyLong_FromLongLong(written);
}

static PyMethodDef methods[] = {
    {"count_byte", count_byte, METH_VARARGS, "count_byte(data, byte) -> how many bytes of data equal byte"},
    {"unit_hashes", unit_hashes, METH_VARARGS,
     "unit_hashes(data, offsets, paragraph, h1, h2, text, index) -> n: the non-empty units' two hashes, text and "
     "index in it written to the first n items of the four output arrays"},
    {"cut_units", cut_units, METH_VARARGS,
     "cut_units(data, offsets, first, units, paragraph, out, out_offsets) -> bytes written: each text without "
     "units[first[t]:first[t + 1]] (ascending)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_unit_kernel", "Byte loops of dataprep.text.native (see that module).", -1, methods,
    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__unit_kernel(void) {
    init_tables();
    return PyModule_Create(&module);
}
