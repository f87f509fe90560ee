/*
 * psg-h5 -- stores a psgpipe stream as an HDF5 file (schema: docs/hdf5.md).
 *
 *   psg-read night.edf | ...stages... | psg-h5 -o night.h5 [--signals]
 *
 * Memory does not grow with the recording: table rows are buffered in
 * batches and appended with H5Dset_extent + hyperslab writes, samples go
 * out one chunk at a time, and epoch values are written into their row as
 * they arrive.  The file is written under a temporary name beside the
 * output and renamed only after the END record, so a broken pipeline never
 * leaves a half-written file that looks complete.
 */
#include "stage.h"
#include "tmpout.h"

#include <hdf5.h>

#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#define SCHEMA_VERSION PSG_SCHEMA_VERSION   /* 1.1: /channels roles,
	emg_bursts id and channels, /events/emg_channels; 2.0: categorical
	columns as text */
#define TICKS 1e7                 /* PSG_TICKS_PER_SEC as a double */
#define BATCH 1024                /* table rows buffered before a write */
#define BATCH_TEXT (8u << 20)     /* ...or this many bytes of labels */
#define SIG_BUDGET (32u << 20)    /* bytes of sample buffers, all channels */
#define SIG_CHUNK_MAX 65536       /* samples per chunk of /signals/<x> */
#define SIG_CHUNK_MIN 1024

/* ---- messages --------------------------------------------------------- */

/* Errors after the temporary file exists are recorded, not printed at
   once, so that it is removed before the message goes out and we exit. */
static char g_msg[1024];
static int g_code;

/* Records the first failure (later ones are consequences); returns -1. */
__attribute__((format(printf, 2, 3)))
static int fail(int code, const char *fmt, ...)
{
	va_list ap;
	if (g_code)
		return -1;
	va_start(ap, fmt);
	vsnprintf(g_msg, sizeof g_msg, fmt, ap);
	va_end(ap);
	g_code = code;
	return -1;
}

static herr_t innermost(unsigned n, const H5E_error2_t *e, void *data)
{
	if (n == 0 && e->desc)
		snprintf(data, 256, "%s", e->desc);
	return 0;
}

/* HDF5's most specific reason for the last failure, on one line.  Call it
   before any other HDF5 call, which would clear the error stack. */
static void h5reason(char *why)
{
	static const char key[] = "error message = '";
	why[0] = '\0';
	H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, why);
	/* A failed system call: HDF5 adds the time, the buffer address...
	   keep only its strerror text. */
	char *p = strstr(why, key), *q;
	if (p && (q = strchr(p += sizeof key - 1, '\''))) {
		*q = '\0';
		memmove(why, p, strlen(p) + 1);
	}
	for (p = why; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

/* An HDF5 call failed: our words plus HDF5's reason. */
__attribute__((format(printf, 1, 2)))
static int h5fail(const char *fmt, ...)
{
	char what[512], why[256];
	va_list ap;
	h5reason(why);
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return fail(EXIT_IO, "cannot %s%s%s", what, why[0] ? ": " : "", why);
}

/* ---- the temporary output file ---------------------------------------- */

static const char *g_tmp;   /* what H5Fcreate writes to (tmpout.h) */

static int make_temp(const char *out)
{
	char err[PATH_MAX + 128];
	tmpout_input_fd(0);
	g_tmp = tmpout_make(0, out, 0, err, sizeof err);
	return g_tmp ? 0 : fail(EXIT_IO, "%s", err);
}

static int commit_temp(const char *out)
{
	char err[PATH_MAX + 128];
	return tmpout_commit(0, out, err, sizeof err) ?
	       fail(EXIT_IO, "%s", err) : 0;
}

/* ---- UTF-8 ------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (RFC 3629), 0 if invalid. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 :
		   c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong forms, surrogates and code points beyond U+10FFFF. */
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

/* A malloc'd copy that is valid UTF-8: the text itself, or, when it is
   not UTF-8, its bytes read as Latin-1 (EDF text should be ASCII, but
   recorders do write Latin-1 names and units). */
static char *utf8_dup(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k, n = strlen(s);
	for (k = 0; k < n;) {
		size_t m = utf8_len(p + k);
		if (!m)
			break;
		k += m;
	}
	if (k == n)
		return strdup(s);
	char *d = malloc(2 * n + 1), *q = d;
	for (; d && *p; p++)
		if (*p < 0x80) {
			*q++ = (char)*p;
		} else {
			*q++ = (char)(0xc0 | *p >> 6);
			*q++ = (char)(0x80 | (*p & 0x3f));
		}
	if (q)
		*q = '\0';
	return d;
}

static int oom(void)
{
	return fail(EXIT_IO, "out of memory");
}

/* ---- HDF5 helpers ------------------------------------------------------ */

static hid_t g_str = H5I_INVALID_HID;   /* variable-length UTF-8 string */
static hid_t g_cat = H5I_INVALID_HID;  /* a category's name (coded.c) */
static hid_t g_lcpl = H5I_INVALID_HID;  /* links named in UTF-8 */
static hid_t g_acpl = H5I_INVALID_HID;  /* attributes named in UTF-8 */
static hid_t g_dxpl = H5I_INVALID_HID;  /* writes with a small buffer */

/* HDF5 allocates its type-conversion buffers (1 MiB by default) on every
   converting H5Dwrite; for one-row epoch writes that made malloc grow and
   trim the heap each time (most of the run time went to page faults).
   64 KiB holds the widest row (see epochs_fail) and larger writes are
   converted in strips. */
#define CONV_BUF (64u << 10)

static int h5_globals(void)
{
	g_str = H5Tcopy(H5T_C_S1);
	g_cat = H5Tcopy(H5T_C_S1);
	g_lcpl = H5Pcreate(H5P_LINK_CREATE);
	g_acpl = H5Pcreate(H5P_ATTRIBUTE_CREATE);
	g_dxpl = H5Pcreate(H5P_DATASET_XFER);
	if (g_str < 0 || g_cat < 0 || g_lcpl < 0 || g_acpl < 0 || g_dxpl < 0 ||
	    H5Pset_buffer(g_dxpl, CONV_BUF, NULL, NULL) < 0 ||
	    H5Tset_size(g_str, H5T_VARIABLE) < 0 ||
	    H5Tset_cset(g_str, H5T_CSET_UTF8) < 0 ||
	    H5Tset_size(g_cat, PSG_CODED_LEN) < 0 ||
	    H5Pset_char_encoding(g_lcpl, H5T_CSET_UTF8) < 0 ||
	    H5Pset_char_encoding(g_acpl, H5T_CSET_UTF8) < 0)
		return h5fail("set up HDF5 types");
	return 0;
}

static void h5_close(hid_t *id, herr_t (*close)(hid_t))
{
	if (*id >= 0)
		close(*id);
	*id = H5I_INVALID_HID;
}

/* Writes an attribute, replacing one of the same name. */
static int attr_write(hid_t obj, const char *name, hid_t ftype, hid_t mtype,
		      hid_t space, const void *buf)
{
	if (H5Aexists(obj, name) > 0 && H5Adelete(obj, name) < 0)
		return h5fail("replace attribute %s", name);
	hid_t a = H5Acreate2(obj, name, ftype, space, g_acpl, H5P_DEFAULT);
	if (a < 0)
		return h5fail("create attribute %s", name);
	herr_t st = H5Awrite(a, mtype, buf);
	if (st < 0)
		h5fail("write attribute %s", name);
	H5Aclose(a);
	return st < 0 ? -1 : 0;
}

static int attr_scalar(hid_t obj, const char *name, hid_t ftype, hid_t mtype,
		       const void *buf)
{
	hid_t sp = H5Screate(H5S_SCALAR);
	if (sp < 0)
		return h5fail("create a dataspace");
	int r = attr_write(obj, name, ftype, mtype, sp, buf);
	H5Sclose(sp);
	return r;
}

static int attr_f64(hid_t obj, const char *name, double v)
{
	return attr_scalar(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

static int attr_i32(hid_t obj, const char *name, int32_t v)
{
	return attr_scalar(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT32, &v);
}

static int attr_str(hid_t obj, const char *name, const char *s)
{
	char *u = utf8_dup(s);
	if (!u)
		return oom();
	int r = attr_scalar(obj, name, g_str, g_str, &u);
	free(u);
	return r;
}

/* A 1-D attribute of n strings (already UTF-8). */
static int attr_strv(hid_t obj, const char *name, char **v, hsize_t n)
{
	hid_t sp = H5Screate_simple(1, &n, NULL);
	if (sp < 0)
		return h5fail("create a dataspace");
	int r = attr_write(obj, name, g_str, g_str, sp, v);
	H5Sclose(sp);
	return r;
}

/* A link name for `name` in grp: '/' becomes '_', a name of dots only
   becomes underscores, "" becomes `fallback`; when unique is set and the
   name is taken, "#2", "#3"... is appended.  Returns a malloc'd name. */
static char *link_name(hid_t grp, const char *name, const char *fallback,
		       int unique)
{
	char *base = utf8_dup(*name ? name : fallback), *p;
	size_t dots = 0, n;
	if (!base)
		return NULL;
	for (p = base; *p; p++) {
		if (*p == '/')
			*p = '_';
		dots += *p == '.';
	}
	n = strlen(base);
	if (dots == n)
		memset(base, '_', n);
	if (!unique || H5Lexists(grp, base, H5P_DEFAULT) <= 0)
		return base;
	char *cand = malloc(n + 16);
	for (int k = 2; cand; k++) {
		snprintf(cand, n + 16, "%s#%d", base, k);
		if (H5Lexists(grp, cand, H5P_DEFAULT) <= 0)
			break;
	}
	free(base);
	return cand;
}

/* A table column name: `name`, or "name_2", "name_3"... if an earlier
   column of the same table has it (an underscore, not '#' as in link
   names, keeps it a valid field name in MATLAB, R and pandas).  Returns a
   malloc'd name. */
static char *column_name(const char *name, char **used, int nused)
{
	char *u = utf8_dup(name), *cand;
	size_t n = u ? strlen(u) + 16 : 0;
	if (!u || !(cand = malloc(n))) {
		free(u);
		return NULL;
	}
	snprintf(cand, n, "%s", u);
	for (int k = 2, i = 0; i < nused; i++)
		if (!strcmp(cand, used[i])) {
			snprintf(cand, n, "%s_%d", u, k++);
			i = -1;   /* rescan: the new name may be taken too */
		}
	free(u);
	return cand;
}

/* ---- compound tables appended in batches ------------------------------- */

enum { C_I32, C_I64, C_F64, C_STR, C_CODE };

typedef struct column {
	const char *name;
	int type;
	size_t off;          /* in the memory row */
} column;

static hid_t col_type(int type, int in_file)
{
	switch (type) {
	case C_I32: return in_file ? H5T_STD_I32LE : H5T_NATIVE_INT32;
	case C_I64: return in_file ? H5T_STD_I64LE : H5T_NATIVE_INT64;
	case C_F64: return in_file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE;
	case C_CODE: return g_cat;
	}
	return g_str;
}

/* A category's name (coded.c) into a cell of PSG_CODED_LEN bytes; a code
   without a name as its number, so that nothing is lost. */
static void code_cell(char *cell, const char *table, const char *col,
		      double v)
{
	const char *name = psg_coded_name(table, col, v);
	memset(cell, 0, PSG_CODED_LEN);
	if (name)
		snprintf(cell, PSG_CODED_LEN, "%s", name);
	else
		snprintf(cell, PSG_CODED_LEN, "%.6g", v);
}

/* The memory type (members at their row offsets) and the packed file type
   (little-endian, whatever the host) of a row. */
static int make_types(const column *c, int n, size_t rowsize, hid_t *mem,
		      hid_t *file)
{
	size_t fsize = 0, off = 0;
	for (int i = 0; i < n; i++)
		fsize += H5Tget_size(col_type(c[i].type, 1));
	*mem = H5Tcreate(H5T_COMPOUND, rowsize);
	*file = H5Tcreate(H5T_COMPOUND, fsize);
	if (*mem < 0 || *file < 0)
		return h5fail("create a compound type");
	for (int i = 0; i < n; i++) {
		hid_t ft = col_type(c[i].type, 1);
		if (H5Tinsert(*mem, c[i].name, c[i].off,
			      col_type(c[i].type, 0)) < 0 ||
		    H5Tinsert(*file, c[i].name, off, ft) < 0)
			return h5fail("add column '%s'", c[i].name);
		off += H5Tget_size(ft);
	}
	return 0;
}

typedef struct table {
	hid_t dset, mem;
	size_t rowsize;
	unsigned char *buf;  /* BATCH rows, or NULL before the first */
	size_t nbuf, text;   /* rows and label bytes buffered */
	hsize_t nrows;       /* rows in the file */
	long owned;          /* offset of a malloc'd string in a row, or -1 */
	char *path;          /* for messages */
} table;

static void table_init(table *t)
{
	memset(t, 0, sizeof *t);
	t->dset = t->mem = H5I_INVALID_HID;
	t->owned = -1;
}

/* An empty 1-D dataset of rows with unlimited length, chunked by BATCH. */
static int table_create(table *t, hid_t loc, const char *name,
			const char *path, const column *c, int n,
			size_t rowsize)
{
	hsize_t dim = 0, max = H5S_UNLIMITED, chunk = BATCH;
	hid_t file = H5I_INVALID_HID, sp, dcpl;
	t->rowsize = rowsize;
	if (!(t->path = strdup(path)))
		return oom();
	if (make_types(c, n, rowsize, &t->mem, &file)) {
		h5_close(&file, H5Tclose);
		return -1;
	}
	sp = H5Screate_simple(1, &dim, &max);
	dcpl = H5Pcreate(H5P_DATASET_CREATE);
	if (sp >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 1, &chunk) >= 0)
		t->dset = H5Dcreate2(loc, name, file, sp, g_lcpl, dcpl,
				     H5P_DEFAULT);
	if (t->dset < 0)
		h5fail("create %s", path);
	H5Sclose(sp);
	H5Pclose(dcpl);
	H5Tclose(file);
	return t->dset < 0 ? -1 : 0;
}

static void table_free_text(table *t)
{
	for (size_t i = 0; t->owned >= 0 && i < t->nbuf; i++) {
		char **p = (char **)(void *)(t->buf + i * t->rowsize +
					     (size_t)t->owned);
		free(*p);
		*p = NULL;
	}
	t->nbuf = t->text = 0;
}

/* Writes n rows from buf at row `at` of a 1-D dataset. */
static int write_rows(hid_t dset, hid_t mem, hsize_t at, hsize_t n,
		      const void *buf, const char *path)
{
	hid_t fs = H5Dget_space(dset), ms = H5Screate_simple(1, &n, NULL);
	int r = 0;
	if (fs < 0 || ms < 0 ||
	    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &n, NULL) < 0 ||
	    H5Dwrite(dset, mem, ms, fs, g_dxpl, buf) < 0)
		r = h5fail("write %s", path);
	h5_close(&fs, H5Sclose);
	h5_close(&ms, H5Sclose);
	return r;
}

/* Appends n rows of buf at the end of a 1-D dataset of *nrows rows. */
static int append_rows(hid_t dset, hid_t mem, hsize_t *nrows, hsize_t n,
		       const void *buf, const char *path)
{
	hsize_t total = *nrows + n;
	if (!n)
		return 0;
	if (H5Dset_extent(dset, &total) < 0)
		return h5fail("extend %s", path);
	if (write_rows(dset, mem, *nrows, n, buf, path))
		return -1;
	*nrows = total;
	return 0;
}

static int table_flush(table *t)
{
	int r = append_rows(t->dset, t->mem, &t->nrows, t->nbuf, t->buf,
			    t->path);
	table_free_text(t);
	return r;
}

static int table_add(table *t, const void *row, size_t text)
{
	/* Allocated on the first row: many event types stay empty. */
	if (!t->buf && !(t->buf = calloc(BATCH, t->rowsize)))
		return oom();
	memcpy(t->buf + t->nbuf * t->rowsize, row, t->rowsize);
	t->nbuf++;
	t->text += text;
	if (t->nbuf == BATCH || t->text >= BATCH_TEXT)
		return table_flush(t);
	return 0;
}

static void table_close(table *t)
{
	if (t->buf)
		table_free_text(t);
	free(t->buf);
	free(t->path);
	h5_close(&t->dset, H5Dclose);
	h5_close(&t->mem, H5Tclose);
}

/* ---- the output's state ------------------------------------------------ */

typedef struct opts {
	const char *out;
	int signals;
	int level;           /* gzip level of /signals, 0 = none */
	int progress;        /* --progress FD, or -1 */
	int argc;
	char **argv;
} opts;

typedef struct chan {
	char *label;         /* UTF-8 copy of the header's label */
	int64_t n_samples, n_segments;
	int open;            /* a run of samples is open: */
	int64_t t0, off0, next_off, first;
	hid_t dset;          /* /signals/<label>, or invalid */
	float *buf;          /* samples not yet written */
	size_t nbuf;
	hsize_t nfile;
} chan;

typedef struct seg_row {
	int32_t channel;
	double onset_s;
	int64_t first_sample, n_samples;
	double duration_s;
} seg_row;

typedef struct evtab {
	table t;
	int nfields;
	const char *type;    /* the declared type, for coded.c */
	int ncoded;          /* categorical fields, whose text follows the */
	int coded[PSG_MAX_FIELDS];  /* values in the row: their indices */
} evtab;

typedef struct epochs {
	hid_t dset;
	int nf;
	char **col;          /* column name of each feature */
	hsize_t extent, chunk;
	int *slot;           /* feature -> position in the record, or -1 */
	uint32_t *uniq;      /* distinct features of the record */
	unsigned char *val;  /* a record's values: 8 bytes each, or
				PSG_CODED_LEN for a categorical feature */
	char *coded;         /* per feature: 1 categorical (coded.c) */
	hid_t mem;           /* memory type for the features in uniq... */
	uint32_t *cached;    /* ...namely these */
	int ncached;
} epochs;

/* One 2-D table of ARRAY records (stream 1.1): /<name>/<label>, a row
   per record's row index, e.g. /spectra/F4-M1 with a PSD per epoch. */
typedef struct arrtab {
	char *name;
	int channel, n;
	hid_t dset;
	hsize_t rows;
} arrtab;

typedef struct h5out {
	const psg_header *h;
	const opts *o;
	arrtab *arr;
	int narr;
	hid_t file, events, summary, signals;
	chan *ch;
	size_t sigchunk;
	table seg;
	evtab *ev;
	epochs ep;
	int64_t reached;     /* ticks: the furthest sample end seen */
	double next_report;  /* s of CLOCK_MONOTONIC: the next progress line */
} h5out;

/* ---- /channels, /segments and /signals --------------------------------- */

static int create_signal(h5out *s, int i)
{
	const psg_channel *pc = &s->h->channels[i];
	char fallback[32];
	hsize_t dim = 0, max = H5S_UNLIMITED, chunk = s->sigchunk;
	snprintf(fallback, sizeof fallback, "ch%d", i);
	char *name = link_name(s->signals, pc->label, fallback, 1);
	if (!name)
		return oom();
	hid_t sp = H5Screate_simple(1, &dim, &max);
	hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
	hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
	/* Whole chunks are written at once, so a chunk cache would only
	   cost memory: with none, chunks go straight to the file. */
	unsigned level = (unsigned)s->o->level;
	if (sp >= 0 && dcpl >= 0 && dapl >= 0 &&
	    H5Pset_chunk(dcpl, 1, &chunk) >= 0 &&
	    (!level || (H5Pset_shuffle(dcpl) >= 0 &&
			H5Pset_deflate(dcpl, level) >= 0)) &&
	    H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0,
			       H5D_CHUNK_CACHE_W0_DEFAULT) >= 0)
		s->ch[i].dset = H5Dcreate2(s->signals, name, H5T_IEEE_F32LE,
					   sp, g_lcpl, dcpl, dapl);
	int r = s->ch[i].dset < 0 ? h5fail("create /signals/%s", name) : 0;
	H5Sclose(sp);
	H5Pclose(dcpl);
	H5Pclose(dapl);
	hid_t d = s->ch[i].dset;
	if (!r && (attr_f64(d, "rate_hz", psg_channel_rate(pc)) ||
		   attr_str(d, "unit", pc->unit) ||
		   attr_str(d, "label", pc->label) ||
		   attr_i32(d, "channel_index", i)))
		r = -1;
	free(name);
	return r;
}

/* Chunk length: the sample buffers of all channels stay within SIG_BUDGET
   (a power of two between SIG_CHUNK_MIN and SIG_CHUNK_MAX). */
static size_t signal_chunk(int nch)
{
	size_t c = SIG_CHUNK_MAX;
	while (c > SIG_CHUNK_MIN &&
	       (size_t)nch * c * sizeof(float) > SIG_BUDGET)
		c /= 2;
	return c;
}

static int setup_channels(h5out *s)
{
	int n = s->h->nchannels;
	if (!(s->ch = calloc((size_t)n + 1, sizeof *s->ch)))
		return oom();
	for (int i = 0; i < n; i++) {
		s->ch[i].dset = H5I_INVALID_HID;
		if (!(s->ch[i].label = utf8_dup(s->h->channels[i].label)))
			return oom();
	}
	if (!s->o->signals)
		return 0;
	s->sigchunk = signal_chunk(n);
	s->signals = H5Gcreate2(s->file, "signals", g_lcpl, H5P_DEFAULT,
				H5P_DEFAULT);
	if (s->signals < 0)
		return h5fail("create /signals");
	for (int i = 0; i < n; i++)
		if (create_signal(s, i))
			return -1;
	return 0;
}

static int setup_segments(h5out *s)
{
	static const column c[] = {
		{"channel", C_I32, offsetof(seg_row, channel)},
		{"onset_s", C_F64, offsetof(seg_row, onset_s)},
		{"first_sample", C_I64, offsetof(seg_row, first_sample)},
		{"n_samples", C_I64, offsetof(seg_row, n_samples)},
		{"duration_s", C_F64, offsetof(seg_row, duration_s)}};
	return table_create(&s->seg, s->file, "segments", "/segments", c,
			    (int)(sizeof c / sizeof *c), sizeof(seg_row));
}

/* Ends channel i's run of samples: one row of /segments. */
static int close_run(h5out *s, int i)
{
	chan *c = &s->ch[i];
	const psg_channel *pc = &s->h->channels[i];
	int64_t n = c->n_samples - c->first;
	if (!c->open)
		return 0;
	c->open = 0;
	c->n_segments++;
	/* duration = n / rate, in this order of operations (docs/hdf5.md) */
	double dur = (double)n * (double)pc->period / ((double)pc->spr * TICKS);
	seg_row row = {i, psg_sample_time(pc, c->t0, c->off0) / TICKS,
		       c->first, n, dur};
	return table_add(&s->seg, &row, 0);
}

static int flush_signal(chan *c)
{
	char what[PSG_LABEL_LEN + 32];
	snprintf(what, sizeof what, "the samples of '%s'", c->label);
	if (append_rows(c->dset, H5T_NATIVE_FLOAT, &c->nfile, c->nbuf, c->buf,
			what))
		return -1;
	c->nbuf = 0;
	return 0;
}

static int store_samples(h5out *s, chan *c, const float *x, size_t n)
{
	if (!c->buf && !(c->buf = malloc(s->sigchunk * sizeof *c->buf)))
		return oom();
	while (n) {
		size_t k = s->sigchunk - c->nbuf;
		if (k > n)
			k = n;
		copy_n(c->buf + c->nbuf, x, k * sizeof *x);
		c->nbuf += k, x += k, n -= k;
		if (c->nbuf == s->sigchunk && flush_signal(c))
			return -1;
	}
	return 0;
}

static int put_block(h5out *s, const psg_block *b)
{
	chan *c = &s->ch[b->channel];
	if (b->n <= 0)
		return 0;
	/* A block continues the open run only if it belongs to the same
	   segment and starts where the run stopped (EDF+D gaps, cuts). */
	if (!c->open || b->t0 != c->t0 || b->offset != c->next_off) {
		if (close_run(s, b->channel))
			return -1;
		c->open = 1;
		c->t0 = b->t0, c->off0 = b->offset, c->first = c->n_samples;
	}
	/* unsigned: a corrupt offset near INT64_MAX must not overflow */
	c->next_off = (int64_t)((uint64_t)b->offset + (uint64_t)b->n);
	c->n_samples += b->n;
	if (c->dset >= 0)
		return store_samples(s, c, b->x, (size_t)b->n);
	return 0;
}

typedef struct chan_row {
	int32_t index;
	char *label, *kind, *unit, *transducer, *prefilter;
	double rate_hz;
	int64_t samples_per_period;
	double period_s, phys_min, phys_max;
	int32_t dig_min, dig_max;
	int64_t n_samples, n_segments;
	char *roles;        /* "wake:eeg sws:eeg": who used it, for what */
} chan_row;

static const column chan_cols[] = {
	{"index", C_I32, offsetof(chan_row, index)},
	{"label", C_STR, offsetof(chan_row, label)},
	{"kind", C_STR, offsetof(chan_row, kind)},
	{"unit", C_STR, offsetof(chan_row, unit)},
	{"transducer", C_STR, offsetof(chan_row, transducer)},
	{"prefilter", C_STR, offsetof(chan_row, prefilter)},
	{"rate_hz", C_F64, offsetof(chan_row, rate_hz)},
	{"samples_per_period", C_I64, offsetof(chan_row, samples_per_period)},
	{"period_s", C_F64, offsetof(chan_row, period_s)},
	{"phys_min", C_F64, offsetof(chan_row, phys_min)},
	{"phys_max", C_F64, offsetof(chan_row, phys_max)},
	{"dig_min", C_I32, offsetof(chan_row, dig_min)},
	{"dig_max", C_I32, offsetof(chan_row, dig_max)},
	{"n_samples", C_I64, offsetof(chan_row, n_samples)},
	{"n_segments", C_I64, offsetof(chan_row, n_segments)},
	{"roles", C_STR, offsetof(chan_row, roles)}};    /* schema 1.1 */

/* The roles of channel i as "stage:role stage:role" ("" if none). */
static int role_text(const psg_header *h, int i, char **out)
{
	size_t n = 1;
	for (int k = 0; k < h->nroles; k++)
		n += strlen(h->roles[k].stage) + strlen(h->roles[k].role) + 2;
	char *t = calloc(n, 1);
	if (!t)
		return oom();
	for (int k = 0; k < h->nroles; k++)
		if (h->roles[k].channel == i)
			sprintf(t + strlen(t), "%s%s:%s", *t ? " " : "",
				h->roles[k].stage, h->roles[k].role);
	*out = t;
	return 0;
}

static int fill_chan_row(h5out *s, int i, chan_row *r)
{
	const psg_channel *c = &s->h->channels[i];
	r->index = i;
	r->label = s->ch[i].label;
	if (!(r->kind = utf8_dup(c->kind)) || !(r->unit = utf8_dup(c->unit)) ||
	    !(r->transducer = utf8_dup(c->transducer)) ||
	    !(r->prefilter = utf8_dup(c->prefilter)))
		return oom();
	r->rate_hz = psg_channel_rate(c);
	r->samples_per_period = c->spr;
	r->period_s = c->period / TICKS;
	r->phys_min = c->phys_min, r->phys_max = c->phys_max;
	r->dig_min = c->dig_min, r->dig_max = c->dig_max;
	r->n_samples = s->ch[i].n_samples;
	r->n_segments = s->ch[i].n_segments;
	return role_text(s->h, i, &r->roles);
}

/* /channels is written whole at the end, when the counts are known; it has
   one row per header channel, so its size does not depend on the length. */
static int write_channels(h5out *s)
{
	int n = s->h->nchannels, r = 0;
	hsize_t dim = (hsize_t)n, nrows = 0;
	chan_row *rows = calloc((size_t)n + 1, sizeof *rows);
	table t;
	table_init(&t);
	for (int i = 0; !r && i < n; i++)
		r = rows ? fill_chan_row(s, i, &rows[i]) : oom();
	if (!r)
		r = table_create(&t, s->file, "channels", "/channels",
				 chan_cols, (int)(sizeof chan_cols /
						   sizeof *chan_cols),
				 sizeof(chan_row));
	if (!r)
		r = append_rows(t.dset, t.mem, &nrows, dim, rows, "/channels");
	for (int i = 0; rows && i < n; i++) {
		free(rows[i].kind);
		free(rows[i].unit);
		free(rows[i].transducer);
		free(rows[i].prefilter);
		free(rows[i].roles);
	}
	free(rows);
	table_close(&t);
	return r;
}

/* ---- /events ----------------------------------------------------------- */

/* Row layout: onset, duration, channel (label), label, channel_index,
   then the field values, then the names of the categorical ones.  Labels
   may repeat in EDF, so the index is what identifies the channel; the
   label is there to be read. */
#define EV_BASE 5
#define EV_CHAN 16
#define EV_LABEL (16 + sizeof(char *))
#define EV_CHIDX (16 + 2 * sizeof(char *))
#define EV_VALUES (EV_CHIDX + 8)
#define EV_ROW(nfields, ncoded) (EV_VALUES + 8 * (size_t)(nfields) + \
				 PSG_CODED_LEN * (size_t)(ncoded))

static int field_attrs(hid_t d, const psg_evtype *t, char **names)
{
	char an[PSG_LABEL_LEN + 64];
	for (int k = 0; k < t->nfields; k++) {
		snprintf(an, sizeof an, "%s_unit", names[EV_BASE + k]);
		if (attr_str(d, an, t->unit[k]))
			return -1;
	}
	return attr_str(d, "type", t->name);
}

static int create_evtab(h5out *s, int i)
{
	const psg_evtype *t = &s->h->evtypes[i];
	evtab *e = &s->ev[i];
	column c[EV_BASE + PSG_MAX_FIELDS];
	char *names[EV_BASE + PSG_MAX_FIELDS] = {"onset", "duration",
		"channel", "channel_index", "label"};
	int n = EV_BASE, r = 0;
	char *name = link_name(s->events, t->name, "_", 1), path[512];
	e->nfields = t->nfields;
	e->type = t->name;
	for (int k = 0; name && k < t->nfields; k++, n++)
		if (!(names[n] = column_name(t->field[k], names, n)))
			break;
	if (!name || n < EV_BASE + t->nfields)
		r = oom();
	const int types[EV_BASE] = {C_F64, C_F64, C_STR, C_I32, C_STR};
	const size_t offs[EV_BASE] = {0, 8, EV_CHAN, EV_CHIDX, EV_LABEL};
	for (int k = 0; k < n; k++) {
		c[k].name = names[k];
		c[k].type = k < EV_BASE ? types[k] : C_F64;
		c[k].off = k < EV_BASE ? offs[k] :
			   EV_VALUES + 8 * (size_t)(k - EV_BASE);
		if (k >= EV_BASE &&
		    psg_coded_column(t->name, t->field[k - EV_BASE])) {
			c[k].type = C_CODE;
			c[k].off = EV_ROW(t->nfields, e->ncoded);
			e->coded[e->ncoded++] = k - EV_BASE;
		}
	}
	if (!r) {
		snprintf(path, sizeof path, "/events/%s", name);
		e->t.owned = (long)EV_LABEL;
		r = table_create(&e->t, s->events, name, path, c, n,
				 EV_ROW(t->nfields, e->ncoded));
	}
	if (!r)
		r = field_attrs(e->t.dset, t, names);
	for (int k = EV_BASE; k < n; k++)
		free(names[k]);
	free(name);
	return r;
}

static int setup_events(h5out *s)
{
	int n = s->h->nevtypes;
	s->events = H5Gcreate2(s->file, "events", g_lcpl, H5P_DEFAULT,
			       H5P_DEFAULT);
	if (s->events < 0)
		return h5fail("create /events");
	if (!(s->ev = calloc((size_t)n + 1, sizeof *s->ev)))
		return oom();
	for (int i = 0; i < n; i++)
		table_init(&s->ev[i].t);
	for (int i = 0; i < n; i++)
		if (create_evtab(s, i))
			return -1;
	return 0;
}

static int put_event(h5out *s, const psg_event *e)
{
	evtab *t = &s->ev[e->type];
	unsigned char row[EV_ROW(PSG_MAX_FIELDS, PSG_MAX_FIELDS)];
	double on = e->onset / TICKS;
	double dur = e->duration < 0 ? NAN : e->duration / TICKS;
	const char *ch = e->channel >= 0 ? s->ch[e->channel].label : "";
	char *label = utf8_dup(e->label ? e->label : "");
	if (!label)
		return oom();
	memcpy(row, &on, 8);
	memcpy(row + 8, &dur, 8);
	memcpy(row + EV_CHAN, &ch, sizeof ch);
	memcpy(row + EV_LABEL, &label, sizeof label);
	int32_t idx = e->channel;
	memcpy(row + EV_CHIDX, &idx, sizeof idx);
	if (t->nfields)
		memcpy(row + EV_VALUES, e->values, 8 * (size_t)t->nfields);
	for (int j = 0; j < t->ncoded; j++) {
		int k = t->coded[j];
		code_cell((char *)row + EV_ROW(t->nfields, j), t->type,
			  s->h->evtypes[e->type].field[k], e->values[k]);
	}
	return table_add(&t->t, row, strlen(label));
}

/* ---- /epochs ----------------------------------------------------------- */

/* Bytes of one value in a record's buffer and in the fill row: a double,
   or a categorical feature's name. */
#define EP_SLOT (PSG_CODED_LEN > 8 ? PSG_CODED_LEN : 8)

static int epochs_alloc(epochs *ep, const psg_header *h)
{
	size_t n = (size_t)h->nfeatures + 1;
	ep->nf = h->nfeatures;
	ep->col = calloc(n + 2, sizeof *ep->col);
	ep->slot = malloc(n * sizeof *ep->slot);
	ep->uniq = malloc(n * sizeof *ep->uniq);
	ep->cached = malloc(n * sizeof *ep->cached);
	ep->val = malloc(n * EP_SLOT);
	ep->coded = calloc(n, 1);
	if (!ep->col || !ep->slot || !ep->uniq || !ep->cached || !ep->val ||
	    !ep->coded)
		return oom();
	for (int i = 0; i < ep->nf; i++) {
		ep->slot[i] = -1;
		ep->coded[i] = (char)psg_coded_column("epochs",
						      h->features[i].name);
	}
	/* Column names: onset, duration, then one per feature (col[2..]). */
	if (!(ep->col[0] = strdup("onset")) ||
	    !(ep->col[1] = strdup("duration")))
		return oom();
	for (int i = 0; i < ep->nf; i++)
		if (!(ep->col[2 + i] = column_name(h->features[i].name,
						   ep->col, 2 + i)))
			return oom();
	return 0;
}

static int epochs_attrs(h5out *s)
{
	char an[PSG_LABEL_LEN + 64];
	for (int i = 0; i < s->ep.nf; i++) {
		const psg_feature *f = &s->h->features[i];
		snprintf(an, sizeof an, "%s_unit", s->ep.col[2 + i]);
		if (attr_str(s->ep.dset, an, f->unit))
			return -1;
		snprintf(an, sizeof an, "%s_description", s->ep.col[2 + i]);
		if (attr_str(s->ep.dset, an, f->desc))
			return -1;
	}
	return 0;
}

/* An HDF5 datatype message is limited to 64 KiB: a compound type of some
   hundreds of columns (563 with 63-byte names, 1089 with 4-byte names)
   does not fit.  That is the input's size, not an I/O failure. */
static int epochs_fail(int nfeatures)
{
	char why[256];
	h5reason(why);
	if (strstr(why, "too large"))
		return fail(EXIT_UNSUITABLE, "%d epoch features are more than "
			    "one HDF5 table can describe (%s); send fewer "
			    "features to psg-h5", nfeatures, why);
	return fail(EXIT_IO, "cannot create /epochs: %s", why);
}

/* The dataset itself: NaN ("" for a category) is the fill value, so an
   epoch or a column that no record filled reads as NaN. */
static int epochs_dataset(h5out *s, const column *c, int n, const void *fill)
{
	epochs *ep = &s->ep;
	size_t rowsize = EP_SLOT * (size_t)n;
	hsize_t dim = 0, max = H5S_UNLIMITED;
	hid_t mem = H5I_INVALID_HID, file = H5I_INVALID_HID;
	hid_t sp = H5Screate_simple(1, &dim, &max);
	hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
	int r = make_types(c, n, rowsize, &mem, &file);
	ep->chunk = 262144 / (8 * (size_t)n);
	ep->chunk = ep->chunk > BATCH ? BATCH : ep->chunk < 16 ? 16 : ep->chunk;
	if (!r && (sp < 0 || dcpl < 0 ||
		   H5Pset_chunk(dcpl, 1, &ep->chunk) < 0 ||
		   H5Pset_fill_value(dcpl, mem, fill) < 0 ||
		   (ep->dset = H5Dcreate2(s->file, "epochs", file, sp, g_lcpl,
					  dcpl, H5P_DEFAULT)) < 0))
		r = epochs_fail(n - 2);
	h5_close(&mem, H5Tclose);
	h5_close(&file, H5Tclose);
	h5_close(&sp, H5Sclose);
	h5_close(&dcpl, H5Pclose);
	return r;
}

/* Rows are written as EPOCH records arrive; the length is settled at END. */
static int setup_epochs(h5out *s)
{
	int n = 2 + s->h->nfeatures, r = 0;
	if (epochs_alloc(&s->ep, s->h))
		return -1;
	column *c = calloc((size_t)n, sizeof *c);
	unsigned char *fill = calloc((size_t)n, EP_SLOT);  /* "" for names */
	double nan = NAN;
	if (!c || !fill)
		r = oom();
	for (int i = 0; !r && i < n; i++) {
		int coded = i >= 2 && s->ep.coded[i - 2];
		c[i].name = s->ep.col[i], c[i].type = coded ? C_CODE : C_F64;
		c[i].off = EP_SLOT * (size_t)i;
		if (!coded)
			memcpy(fill + c[i].off, &nan, 8);
	}
	if (!r)
		r = epochs_dataset(s, c, n, fill);
	free(c);
	free(fill);
	return r;
}

/* The memory type for the record's distinct features uniq[0..m): the one
   built for the previous record when the features are the same (stages
   usually send the same set every epoch). */
static hid_t epoch_memtype(epochs *ep, int m)
{
	if (ep->mem >= 0 && ep->ncached == m &&
	    !memcmp(ep->cached, ep->uniq, (size_t)m * sizeof *ep->uniq))
		return ep->mem;
	h5_close(&ep->mem, H5Tclose);
	ep->mem = H5Tcreate(H5T_COMPOUND, EP_SLOT * (size_t)m);
	for (int j = 0; ep->mem >= 0 && j < m; j++)
		if (H5Tinsert(ep->mem, ep->col[2 + ep->uniq[j]],
			      EP_SLOT * (size_t)j, ep->coded[ep->uniq[j]] ?
			      g_cat : H5T_NATIVE_DOUBLE) < 0)
			h5_close(&ep->mem, H5Tclose);
	if (ep->mem < 0) {
		h5fail("build an epoch row type");
		return H5I_INVALID_HID;
	}
	copy_n(ep->cached, ep->uniq, (size_t)m * sizeof *ep->uniq);
	ep->ncached = m;
	return ep->mem;
}

/* Whether epoch k can be complete at all: its end must be a tick.  Past
   that HDF5 cannot even index the row; such records are dropped at once,
   like every record past the last complete epoch at END. */
static int epoch_possible(const psg_header *h, int64_t k)
{
	int64_t origin = h->epoch_origin > 0 ? h->epoch_origin : 0;
	return h->epoch_len > 0 && k < (INT64_MAX - origin) / h->epoch_len;
}

/* Writes the record's values into row e->epoch; only its members are
   touched, HDF5 keeps the other columns of the row. */
static int put_epoch(h5out *s, const psg_epoch *e)
{
	epochs *ep = &s->ep;
	int m = 0;
	hsize_t k = (hsize_t)e->epoch, one = 1;
	if (!epoch_possible(s->h, e->epoch))
		return 0;
	for (int i = 0; i < e->n; i++) {
		uint32_t f = e->feature[i];
		if (ep->slot[f] < 0)
			ep->slot[f] = m, ep->uniq[m++] = f;
		/* the last one wins */
		unsigned char *v = ep->val + EP_SLOT * (size_t)ep->slot[f];
		if (ep->coded[f])
			code_cell((char *)v, "epochs", s->h->features[f].name,
				  e->value[i]);
		else
			memcpy(v, &e->value[i], 8);
	}
	for (int j = 0; j < m; j++)
		ep->slot[ep->uniq[j]] = -1;
	if (!m)
		return 0;
	hid_t mem = epoch_memtype(ep, m);
	if (mem < 0)
		return -1;
	if (k >= ep->extent) {
		hsize_t want = (k / ep->chunk + 1) * ep->chunk;
		if (H5Dset_extent(ep->dset, &want) < 0)
			return h5fail("extend /epochs to %llu rows",
				      (unsigned long long)want);
		ep->extent = want;
	}
	hid_t fs = H5Dget_space(ep->dset), ms = H5Screate(H5S_SCALAR);
	int r = 0;
	if (fs < 0 || ms < 0 ||
	    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &k, NULL, &one, NULL) < 0 ||
	    H5Dwrite(ep->dset, mem, ms, fs, g_dxpl, ep->val) < 0)
		r = h5fail("write epoch %llu", (unsigned long long)k);
	h5_close(&fs, H5Sclose);
	h5_close(&ms, H5Sclose);
	return r;
}

/* Rows [at, at+m) of src into the same rows of dst, through buf. */
static int copy_rows(hid_t src, hid_t dst, hid_t mem, hsize_t at, hsize_t m,
		     void *buf)
{
	hid_t fs = H5Dget_space(src), ft = H5Dget_space(dst);
	hid_t ms = H5Screate_simple(1, &m, NULL);
	int r = 0;
	if (fs < 0 || ft < 0 || ms < 0 ||
	    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &m, NULL) < 0 ||
	    H5Sselect_hyperslab(ft, H5S_SELECT_SET, &at, NULL, &m, NULL) < 0 ||
	    H5Dread(src, mem, ms, fs, g_dxpl, buf) < 0 ||
	    H5Dwrite(dst, mem, ms, ft, g_dxpl, buf) < 0)
		r = h5fail("copy /epochs");
	h5_close(&fs, H5Sclose);
	h5_close(&ft, H5Sclose);
	h5_close(&ms, H5Sclose);
	return r;
}

/* Cutting the rows past the last complete epoch by shrinking the dataset
   makes HDF5 visit every chunk position of the cut range: a stray epoch
   index far ahead (10^12) took minutes.  Past this many rows to cut, the
   first n rows are copied into a new /epochs instead. */
#define EPOCH_CUT_MAX ((hsize_t)1 << 24)

static int copy_epochs(h5out *s, hsize_t n)
{
	epochs *ep = &s->ep;
	hsize_t max = H5S_UNLIMITED, done = 0;
	hid_t type = H5Dget_type(ep->dset);
	hid_t dcpl = H5Dget_create_plist(ep->dset);
	hid_t mem = type < 0 ? type : H5Tget_native_type(type, H5T_DIR_ASCEND);
	hid_t sp = H5Screate_simple(1, &n, &max), nd = H5I_INVALID_HID;
	void *buf = mem < 0 ? NULL : malloc(ep->chunk * H5Tget_size(mem));
	int r = 0;
	if (type < 0 || dcpl < 0 || mem < 0 || sp < 0 ||
	    (nd = H5Dcreate2(s->file, "epochs.new", type, sp, g_lcpl, dcpl,
			     H5P_DEFAULT)) < 0)
		r = h5fail("copy /epochs");
	else if (!buf)
		r = oom();
	for (; !r && done < n; done += ep->chunk)
		r = copy_rows(ep->dset, nd, mem, done, n - done < ep->chunk ?
			      n - done : ep->chunk, buf);
	h5_close(&ep->dset, H5Dclose);
	ep->dset = nd;
	if (!r && (H5Ldelete(s->file, "epochs", H5P_DEFAULT) < 0 ||
		   H5Lmove(s->file, "epochs.new", s->file, "epochs", g_lcpl,
			   H5P_DEFAULT) < 0))
		r = h5fail("replace /epochs");
	free(buf);
	h5_close(&type, H5Tclose);
	h5_close(&mem, H5Tclose);
	h5_close(&dcpl, H5Pclose);
	h5_close(&sp, H5Sclose);
	return r;
}

/* Onset and duration of rows [0, n), in batches. */
static int write_onsets(h5out *s, const psg_header *h, hsize_t n)
{
	double od[2 * BATCH];
	column c[] = {{"onset", C_F64, 0}, {"duration", C_F64, 8}};
	hid_t mem = H5I_INVALID_HID, file = H5I_INVALID_HID;
	hsize_t done = 0;
	int r = make_types(c, 2, 16, &mem, &file);
	while (!r && done < n) {
		hsize_t m = n - done < BATCH ? n - done : BATCH;
		for (hsize_t j = 0; j < m; j++) {
			int64_t k = (int64_t)(done + j);
			int64_t onset = h->epoch_origin + k * h->epoch_len;
			od[2 * j] = onset / TICKS;
			od[2 * j + 1] = h->epoch_len / TICKS;
		}
		r = write_rows(s->ep.dset, mem, done, m, od, "/epochs");
		done += m;
	}
	h5_close(&mem, H5Tclose);
	h5_close(&file, H5Tclose);
	return r;
}

/* At END: exactly the complete epochs, with onset, duration and the
   features' units and descriptions. */
static int finish_epochs(h5out *s, int64_t duration)
{
	epochs *ep = &s->ep;
	psg_header h = *s->h;   /* shallow: only for psg_header_nepochs */
	h.duration = duration;
	hsize_t n = (hsize_t)psg_header_nepochs(&h);
	if (ep->extent > n && ep->extent - n > EPOCH_CUT_MAX) {
		if (copy_epochs(s, n))
			return -1;
	} else if (H5Dset_extent(ep->dset, &n) < 0) {
		return h5fail("set the length of /epochs");
	}
	return write_onsets(s, &h, n) || epochs_attrs(s) ? -1 : 0;
}

static void epochs_free(epochs *ep)
{
	for (int i = 0; ep->col && i < ep->nf + 2; i++)
		free(ep->col[i]);
	free(ep->col);
	free(ep->slot);
	free(ep->uniq);
	free(ep->cached);
	free(ep->val);
	free(ep->coded);
	h5_close(&ep->mem, H5Tclose);
	h5_close(&ep->dset, H5Dclose);
}

/* ---- /summary ---------------------------------------------------------- */

/* A scalar dataset per name plus a group attribute with the value; a later
   record of the same name replaces both. */
static int put_summary(h5out *s, const psg_summary *m)
{
	char *name = link_name(s->summary, m->name, "_", 0);
	hid_t d = H5I_INVALID_HID, sp = H5I_INVALID_HID;
	int r = 0;
	if (!name)
		return oom();
	if (H5Lexists(s->summary, name, H5P_DEFAULT) > 0)
		d = H5Dopen2(s->summary, name, H5P_DEFAULT);
	else if ((sp = H5Screate(H5S_SCALAR)) >= 0)
		d = H5Dcreate2(s->summary, name, H5T_IEEE_F64LE, sp, g_lcpl,
			       H5P_DEFAULT, H5P_DEFAULT);
	if (d < 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, g_dxpl,
			      &m->value) < 0)
		r = h5fail("write /summary/%s", name);
	if (!r && (attr_str(d, "unit", m->unit ? m->unit : "") ||
		   attr_str(d, "name", m->name) ||
		   attr_f64(s->summary, name, m->value)))
		r = -1;
	h5_close(&d, H5Dclose);
	h5_close(&sp, H5Sclose);
	free(name);
	return r;
}

/* ---- root attributes --------------------------------------------------- */

static int root_history(h5out *s)
{
	const psg_header *h = s->h;
	size_t len = 1;
	int n = h->nhistory, r;
	char **v = calloc((size_t)n + 1, sizeof *v);
	for (int i = 0; i < s->o->argc; i++)
		len += strlen(s->o->argv[i]) + 1;
	char *own = malloc(len);
	if (!v || !own) {
		free(v);
		free(own);
		return oom();
	}
	/* Our own command line, joined as psg_header_add_history does. */
	own[0] = '\0';
	for (int i = 0; i < s->o->argc; i++) {
		if (i)
			strcat(own, " ");
		strcat(own, s->o->argv[i]);
	}
	r = 0;
	for (int i = 0; i < n && !r; i++)
		if (!(v[i] = utf8_dup(h->history[i])))
			r = oom();
	if (!r && !(v[n] = utf8_dup(own)))
		r = oom();
	if (!r)
		r = attr_strv(s->file, "history", v, (hsize_t)n + 1);
	for (int i = 0; i <= n; i++)
		free(v[i]);
	free(v);
	free(own);
	return r;
}

static int root_attrs(h5out *s, const psg_end *end)
{
	const psg_header *h = s->h;
	char iso[64];
	const struct { const char *name, *value; } str[] = {
		{"schema_version", SCHEMA_VERSION}, {"software", h->software},
		{"psgpipe_version", PSG_VERSION}, {"source_file", h->source},
		{"source_sha256", end->sha256}, {"file_type", h->file_type},
		{"start_time", iso}, {"patient", h->patient},
		{"recording", h->recording},
		{"patient_code", h->patient_code}, {"sex", h->sex},
		{"birthdate", h->birthdate},
		{"patient_name", h->patient_name},
		{"patient_additional", h->patient_additional},
		{"admincode", h->admincode}, {"technician", h->technician},
		{"equipment", h->equipment},
		{"recording_additional", h->recording_additional}};
	psg_header_start_iso(h, iso, sizeof iso);
	for (size_t i = 0; i < sizeof str / sizeof *str; i++)
		if (attr_str(s->file, str[i].name, str[i].value))
			return -1;
	if (attr_f64(s->file, "duration_s", end->duration < 0 ? NAN :
		     end->duration / TICKS) ||
	    attr_f64(s->file, "epoch_length_s", h->epoch_len / TICKS) ||
	    attr_f64(s->file, "epoch_origin_s", h->epoch_origin / TICKS))
		return -1;
	return root_history(s);
}

/* ---- the whole file ---------------------------------------------------- */

static int setup(h5out *s)
{
	s->file = H5Fcreate(g_tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	if (s->file < 0)
		return h5fail("create the HDF5 file %s", s->o->out);
	s->summary = H5Gcreate2(s->file, "summary", g_lcpl, H5P_DEFAULT,
				H5P_DEFAULT);
	if (s->summary < 0)
		return h5fail("create /summary");
	return setup_channels(s) || setup_segments(s) || setup_epochs(s) ||
	       setup_events(s) ? -1 : 0;
}

/* Everything that waits for END: open runs, buffered rows and samples,
   the tables whose size only END tells. */
static int finish(h5out *s, const psg_end *end)
{
	for (int i = 0; i < s->h->nchannels; i++)
		if (close_run(s, i) ||
		    (s->ch[i].dset >= 0 && flush_signal(&s->ch[i])))
			return -1;
	if (table_flush(&s->seg))
		return -1;
	for (int i = 0; i < s->h->nevtypes; i++)
		if (table_flush(&s->ev[i].t))
			return -1;
	return write_channels(s) || finish_epochs(s, end->duration) ||
	       root_attrs(s, end) ? -1 : 0;
}

static void h5out_free(h5out *s)
{
	for (int i = 0; s->ch && i < s->h->nchannels; i++) {
		free(s->ch[i].label);
		free(s->ch[i].buf);
		h5_close(&s->ch[i].dset, H5Dclose);
	}
	free(s->ch);
	for (int i = 0; s->ev && i < s->h->nevtypes; i++)
		table_close(&s->ev[i].t);
	free(s->ev);
	table_close(&s->seg);
	epochs_free(&s->ep);
	for (int i = 0; i < s->narr; i++) {
		free(s->arr[i].name);
		h5_close(&s->arr[i].dset, H5Dclose);
	}
	free(s->arr);
	h5_close(&s->events, H5Gclose);
	h5_close(&s->summary, H5Gclose);
	h5_close(&s->signals, H5Gclose);
}

/* ---- /<array name>/<label> -------------------------------------------- */

static int array_group(h5out *s, const char *name, hid_t *g)
{
	*g = H5I_INVALID_HID;
	static const char *const taken[] = {"channels", "segments", "epochs",
		"events", "summary", "signals"};
	for (size_t i = 0; i < sizeof taken / sizeof *taken; i++)
		if (!strcmp(name, taken[i]))
			return fail(EXIT_IO, "an array table may not be called "
				    "'%s'", name);
	if (strchr(name, '/') || name[0] == '.')
		return fail(EXIT_IO, "bad array table name '%s'", name);
	htri_t there = H5Lexists(s->file, name, H5P_DEFAULT);
	*g = there > 0 ? H5Gopen2(s->file, name, H5P_DEFAULT) :
	     H5Gcreate2(s->file, name, g_lcpl, H5P_DEFAULT, H5P_DEFAULT);
	return *g < 0 ? h5fail("create /%s", name) : 0;
}

static int array_create(h5out *s, arrtab *t, const psg_array *a)
{
	hid_t g = H5I_INVALID_HID;
	if (array_group(s, a->name, &g))
		return -1;
	char fallback[32];
	snprintf(fallback, sizeof fallback, a->channel < 0 ? "all" : "ch%d",
		 a->channel);
	const char *label = a->channel < 0 ? "all" :
			    s->h->channels[a->channel].label;
	char *link = link_name(g, label, fallback, 1);
	hsize_t dim[2] = {0, (hsize_t)a->n}, max[2] = {H5S_UNLIMITED,
		(hsize_t)a->n}, chunk[2] = {64, (hsize_t)(a->n ? a->n : 1)};
	float nan = NAN;
	hid_t sp = H5Screate_simple(2, dim, max);
	hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
	int r = -1;
	if (link && sp >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, 2, chunk) >= 0 &&
	    H5Pset_fill_value(dcpl, H5T_NATIVE_FLOAT, &nan) >= 0)
		t->dset = H5Dcreate2(g, link, H5T_IEEE_F32LE, sp, g_lcpl, dcpl,
				     H5P_DEFAULT);
	if (t->dset >= 0)
		r = attr_f64(t->dset, "x0", a->x0) ||
		    attr_f64(t->dset, "dx", a->dx) ||
		    attr_str(t->dset, "unit", a->unit ? a->unit : "") ||
		    attr_str(t->dset, "label", label) ||
		    attr_i32(t->dset, "channel_index", a->channel) ? -1 : 0;
	else if (link)
		r = h5fail("create /%s/%s", a->name, link);
	else
		r = oom();
	if (sp >= 0)
		H5Sclose(sp);
	if (dcpl >= 0)
		H5Pclose(dcpl);
	H5Gclose(g);
	free(link);
	t->n = a->n;
	return r;
}

static arrtab *array_table(h5out *s, const psg_array *a)
{
	for (int i = 0; i < s->narr; i++)
		if (s->arr[i].channel == a->channel &&
		    !strcmp(s->arr[i].name, a->name))
			return &s->arr[i];
	arrtab *p = realloc(s->arr, (size_t)(s->narr + 1) * sizeof *p);
	if (!p)
		return oom(), NULL;
	s->arr = p;
	arrtab *t = &p[s->narr];
	*t = (arrtab){.name = strdup(a->name), .channel = a->channel,
		.dset = H5I_INVALID_HID};
	if (!t->name)
		return oom(), NULL;
	s->narr++;
	return array_create(s, t, a) ? NULL : t;
}

static int put_array(h5out *s, const psg_array *a)
{
	arrtab *t = array_table(s, a);
	if (!t)
		return -1;
	if (a->n != t->n)
		return fail(EXIT_IO, "array '%s' changes its length from %d "
			    "to %d", a->name, t->n, a->n);
	hsize_t row = (hsize_t)a->row;
	if (row >= t->rows) {
		hsize_t ext[2] = {row + 1, (hsize_t)t->n};
		if (H5Dset_extent(t->dset, ext) < 0)
			return h5fail("extend /%s", a->name);
		t->rows = row + 1;
	}
	hsize_t start[2] = {row, 0}, count[2] = {1, (hsize_t)t->n};
	hid_t fs = H5Dget_space(t->dset), ms = H5Screate_simple(2, count, NULL);
	int r = fs >= 0 && ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET,
		start, NULL, count, NULL) >= 0 &&
		(t->n == 0 || H5Dwrite(t->dset, H5T_NATIVE_FLOAT, ms, fs,
				       H5P_DEFAULT, a->v) >= 0) ? 0 :
		h5fail("write /%s", a->name);
	if (fs >= 0)
		H5Sclose(fs);
	if (ms >= 0)
		H5Sclose(ms);
	return r;
}

static int dispatch(h5out *s, const psg_record *rec)
{
	switch (rec->kind) {
	case PSG_REC_ARRAY: return put_array(s, &rec->array);
	case PSG_REC_DATA: return put_block(s, &rec->block);
	case PSG_REC_EVENT: return put_event(s, &rec->event);
	case PSG_REC_EPOCH: return put_epoch(s, &rec->epoch);
	case PSG_REC_SUMMARY: return put_summary(s, &rec->summary);
	}
	return 0;
}

/* ---- --progress -------------------------------------------------------- */

/* A driver on a terminal (psg-night) shows how far the night has come:
   "DONE TOTAL" lines, seconds of the recording stored and its length ("-"
   when the header does not know it), at most one a second and one at the
   END.  Best effort: a line that cannot be written is not retried. */
static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void report_progress(h5out *s, int64_t done, int64_t total)
{
	char line[80];
	if (total > 0)
		snprintf(line, sizeof line, "%.1f %.1f\n", done / TICKS,
			 total / TICKS);
	else
		snprintf(line, sizeof line, "%.1f -\n", done / TICKS);
	if (write(s->o->progress, line, strlen(line)) < 0)
		s->next_report = INFINITY;
}

static void note_progress(h5out *s, const psg_record *rec)
{
	if (s->o->progress < 0 || rec->kind != PSG_REC_DATA)
		return;
	const psg_block *b = &rec->block;
	int64_t end = psg_sample_time(&s->h->channels[b->channel], b->t0,
				      b->offset + b->n);
	s->reached = end > s->reached ? end : s->reached;
	double t = now_s();
	if (t >= s->next_report) {
		report_progress(s, s->reached, s->h->duration);
		s->next_report = t + 1;
	}
}

/* Reads every record into s; 0 after END and a complete file. */
static int convert(psg_reader *rd, h5out *s)
{
	psg_record rec;
	int st;
	while ((st = psg_reader_next(rd, &rec)) == 1) {
		if (rec.kind == PSG_REC_END) {
			if (finish(s, &rec.end))
				return -1;
			if (s->o->progress >= 0)
				report_progress(s, rec.end.duration,
						rec.end.duration);
			break;
		}
		note_progress(s, &rec);
		if (dispatch(s, &rec))
			return -1;
	}
	if (st < 0)
		return fail(exit_code(st), "standard input: %s; %s not written",
			    psg_reader_errmsg(rd), s->o->out);
	return 0;
}

static int run(const opts *o)
{
	char msg[512] = "";
	int st;
	h5out s = {.file = H5I_INVALID_HID, .events = H5I_INVALID_HID,
		   .summary = H5I_INVALID_HID, .signals = H5I_INVALID_HID,
		   .o = o};
	table_init(&s.seg);
	s.ep.dset = s.ep.mem = H5I_INVALID_HID;
	if (h5_globals() || make_temp(o->out))
		return -1;
	psg_reader *rd = stream_in(&st, msg, sizeof msg);
	if (!rd)
		return fail(exit_code(st), "standard input: %s; %s not written",
			    msg, o->out);
	s.h = psg_reader_header(rd);
	int r = setup(&s) || convert(rd, &s) ? -1 : 0;
	h5out_free(&s);
	if (s.file >= 0 && H5Fclose(s.file) < 0 && !r)
		r = h5fail("finish %s", o->out);
	psg_reader_free(rd);
	return r ? -1 : commit_temp(o->out);
}

/* ---- command line ------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs("usage: psg-h5 -o OUT.h5 [--signals] [--compress N]\n"
	      "Reads a psgpipe stream on standard input and stores it as "
	      "HDF5\n(schema 2.0, docs/hdf5.md): header, channels, segments, "
	      "epochs,\nevents and summaries; samples too with --signals.\n\n"
	      "  -o, --output OUT.h5  the file to write (required); it "
	      "appears only\n                       when the stream ended "
	      "with its END record\n"
	      "  -s, --signals        also store the samples in "
	      "/signals/<label>\n"
	      "  -z, --compress N     gzip level 0-9 of /signals "
	      "(default 4, 0 = none)\n"
	      "      --progress FD    write 'DONE TOTAL' (seconds of the "
	      "recording stored,\n"
	      "                       its length or '-') to descriptor FD "
	      "once a second\n"
	      "      --version        the version\n"
	      "  -h, --help           this help\n"
	      "Exit: 0 done, 1 usage, 2 input/output error, 3 unsuitable "
	      "input.\n", f);
}

static void parse_args(int argc, char **argv, opts *o)
{
	static const struct option lo[] = {
		{"output", required_argument, NULL, 'o'},
		{"signals", no_argument, NULL, 's'},
		{"compress", required_argument, NULL, 'z'},
		{"progress", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	char *end;
	long level;
	int c;
	*o = (opts){.level = 4, .progress = -1, .argc = argc, .argv = argv};
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:sz:h", lo, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case 's': o->signals = 1; break;
		case 'z':
			errno = 0;
			level = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || level < 0 ||
			    level > 9)
				die(EXIT_USAGE, "--compress wants a level 0-9, "
				    "not '%s'", optarg);
			o->level = (int)level;
			break;
		case 'P':
			o->progress = (int)opt_num("--progress", optarg, 0,
						    INT_MAX);
			if (o->progress != atof(optarg) ||
			    fcntl(o->progress, F_GETFL) < 0)
				die(EXIT_USAGE, "--progress wants an open file "
				    "descriptor, not '%s'", optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			bad_option(c, argv);
		}
	}
	no_operands(argc, argv);
	if (!o->out || !*o->out)
		die(EXIT_USAGE, "no output file: use -o OUT.h5");
	if (stdin_is_input() && isatty(0))
		die(EXIT_USAGE, "standard input is a terminal: pipe a "
		    "psgpipe stream into psg-h5");
}

int main(int argc, char **argv)
{
	opts o;
	stage_name = "psg-h5";
	parse_args(argc, argv, &o);
	/* After an H5Fclose that failed (a full disk), HDF5 1.10 crashes when
	   it shuts down (H5F__close_cb on the half-closed file), be it in
	   H5close or in its atexit handler.  So: no atexit handler, and
	   H5close only after a clean run; a failed run just exits. */
	H5dont_atexit();
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	tmpout_handlers();
	if (run(&o) && !g_code)
		g_code = EXIT_IO;
	tmpout_discard();
	if (g_code) {
		FILE *f = message_file();
		if (f)
			fprintf(f, "%s: %s\n", stage_name, g_msg);
		return g_code;
	}
	h5_close(&g_str, H5Tclose);
	h5_close(&g_cat, H5Tclose);
	h5_close(&g_lcpl, H5Pclose);
	h5_close(&g_acpl, H5Pclose);
	h5_close(&g_dxpl, H5Pclose);
	H5close();
	return 0;
}
