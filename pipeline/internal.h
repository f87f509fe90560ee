/*
 * internal.h -- shared between the library's files, not installed.
 *
 * A psg_reader is one record source behind a small vtable: the stream
 * decoder (stream_read.c), edflib (edf_edflib.c) and the native EDF/BDF
 * parser (edf_native.c), and a result file read back (result_src.c).  Stages see only the public psg_reader.
 */
#ifndef PSG_INTERNAL_H
#define PSG_INTERNAL_H

#include "psg.h"
#include <stdarg.h>
#include <stdio.h>
#include <sys/types.h>

struct psg_reader_ops {
	int (*next)(psg_reader *r, psg_record *rec);
	void (*close)(psg_reader *r);
};

struct psg_reader {
	const struct psg_reader_ops *ops;
	void *impl;
	psg_header *h;
	int is_stream;
	uint32_t stream_version;   /* as on the wire: major | minor << 16 */
	int done;
	char *path;           /* for messages; NULL for stdin */
	char err[512];
	int nwarn;
	char **warn;
	int64_t max_duration;  /* limits.c: psg_max_duration() at open */
	int64_t *next_time;   /* per channel: where its last block ended */
};

/* limits.c: the header and each record within the documented limits
   (docs/stream.md), for every backend; PSG_OK or a status with r->err. */
int psg__check_header(psg_reader *r);
int psg__check_record(psg_reader *r, const psg_record *rec);

/* Formats a message into r->err and returns status. */
int psg__fail(psg_reader *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void psg__warn(psg_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void psg__set_msg(char *msg, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Control characters of s (a message that quotes its input) as '?'. */
void psg__one_line(char *s);
psg_reader *psg__reader_new(void);

/* Copies src into a fixed field, trimming trailing blanks. */
void psg__copy_trim(char *dst, size_t dstlen, const char *src, size_t srclen);
void psg__strlcpy(char *dst, const char *src, size_t n);

/* Backends: each fills r on success or returns a status with msg set. */
int psg__open_stream(psg_reader *r, int fd, int owns_fd);
int psg__open_edflib(psg_reader *r, const char *path, const psg_open_opts *o);
int psg__open_native(psg_reader *r, const char *path, const psg_open_opts *o);
/* psg_reader_open with `special' tried on a file first (NULL: none): it
   opens r and returns a status, or returns 1 for a file not of its kind
   (psg_reader_open_results passes result_src.c's). */
typedef int (*psg__opener)(psg_reader *r, const char *path);
psg_reader *psg__reader_open(const char *path, const psg_open_opts *opts,
			     psg__opener special, int *status, char *msg,
			     size_t msglen);

/* Converts voltages to microvolts: returns the factor for unit (1 if none)
   and rewrites unit to "uV" when it was a voltage. */
double psg__to_microvolts(char *unit, size_t n);

/* Parses the EDF+ patient and recording subfields into h. */
void psg__parse_edfplus_ids(psg_header *h);

/* Applies the selection and epoch options common to file backends; fills
   map[i] = source signal of output channel i, returns count or status. */
int psg__select(psg_reader *r, const psg_open_opts *o, int *map, int nmax);

/* SHA-256 computed on a thread while a file is read. */
typedef struct psg_hasher psg_hasher;
psg_hasher *psg__hasher_start(const char *path);
/* Joins the thread; writes 64 hex digits or "" on failure. */
void psg__hasher_finish(psg_hasher *hs, char out[65]);

/* Output through a PSG__OUTBUF-byte buffer into fd (outbuf.c): 0, or -1
   with errno set.  psg__buffered writes each time the buffer fills. */
#define PSG__OUTBUF (1u << 20)
int psg__write_all(int fd, const unsigned char *p, size_t n);
int psg__flush_to(int fd, unsigned char *buf, size_t *used);
int psg__buffered(int fd, unsigned char *buf, size_t *used, const void *p,
		  size_t n);

/* Buffers of PSG__OUTBUF bytes with counted references (link.c): new
   holds one; the last unref (any thread; NULL is nothing) returns it to a
   pool.  live counts the buffers that exist. */
unsigned char *psg__buf_new(void);
void psg__buf_ref(unsigned char *b);
void psg__buf_unref(unsigned char *b);
int psg__buf_live(void);

/* A slice of such a buffer: what travels through a link, with one
   reference to its buffer. */
typedef struct psg__slice {
	unsigned char *buf;
	size_t off, len;
} psg__slice;

/* Links (link.c).  put hands over n slices (none empty, at most
   PSG__BATCH) and their references: 0, or -1 with errno EPIPE when the
   reader is gone (the references dropped).  get waits
   for the next slice and passes its reference to the caller: 1, or 0 at
   the end of input (*s empty). */
#define PSG__BATCH 32
int psg__link_put(psg_link *l, const psg__slice *s, int n);
int psg__link_get(psg_link *l, psg__slice *s);

/* The DATA record this thread's stream reader handed out last, when it
   lies whole in a link's buffer (stream_read.c); a writer on the same
   thread forwards those very bytes instead of copying the samples
   (stream_write.c).  x is NULL when there is none. */
typedef struct psg__origin {
	const float *x;
	unsigned char *buf;
	size_t off, len;         /* the record, its frame included */
} psg__origin;
extern _Thread_local psg__origin psg__last_read;

/* Around every FFTW plan made or destroyed (fftfilt.c): threads. */
void psg__planner_lock(void);
void psg__planner_unlock(void);

/* Filtered samples waiting (fftfilt.c): one block, its unread part slid
   to the front when more will not fit, grown by `slack' more when even
   that is not enough.  psg_filter's queue, and psg_ahead's copy of one
   on the consumer's side (ahead.c). */
typedef struct psg__fifo {
	float *q;
	size_t head, n, cap;      /* q[head..n) wait */
} psg__fifo;
int psg__fifo_put(psg__fifo *f, const float *y, size_t n, size_t slack);
/* The samples waiting, in place (*n of them; NULL when none). */
float *psg__fifo_peek(const psg__fifo *f, int *n);
int psg__fifo_consume(psg__fifo *f, int n);

/* A stream reader on a link (stream_read.c). */
int psg__open_stream_link(psg_reader *r, psg_link *l);

/* Whether the header's start date-time lies within the limits (years
   PSG_MIN_YEAR..PSG_MAX_YEAR, months 1-12, ...). */
int psg__start_ok(const psg_header *h);

/* Date arithmetic: days since 1970-01-01 of a civil date. */
int64_t psg__days_from_civil(int y, int m, int d);

/* Parses an EDF+ TAL block (one annotation signal of one record).
   Calls fn for every annotation; the first timekeeping TAL's onset goes to
   *record_onset (ticks, or INT64_MIN if absent).  Returns 0 or -1. */
typedef void (*psg__tal_fn)(void *ctx, int64_t onset, int64_t duration,
			    const char *text);
int psg__parse_tal(const unsigned char *buf, size_t n, int first_signal,
		   int64_t *record_onset, psg__tal_fn fn, void *ctx);
/* "+12.5" -> ticks; returns 0 or -1. */
int psg__parse_seconds(const char *s, size_t n, int64_t *ticks);

#endif
