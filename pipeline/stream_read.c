/*
 * stream_read.c -- decodes the psgpipe stream (docs/stream.md).
 *
 * Memory is bounded by the largest record (PSG_MAX_PAYLOAD), never by the
 * stream's length.  Unknown record tags are skipped, and bytes beyond the
 * fields a record is known to have are ignored: that is how minor versions
 * add things without breaking older stages.
 */
#include "internal.h"
#include "wire.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INBUF PSG__OUTBUF      /* a counted buffer's size (link.c) */

_Thread_local psg__origin psg__last_read;

typedef struct stream {
	int fd, owns_fd;
	psg_link *link;          /* if not NULL, the input instead of fd */
	psg__slice slice;        /* a link's: the slice being read */
	unsigned char *in;       /* the bytes being read */
	size_t have, pos;
	int eof;
	unsigned char *payload;  /* a record copied out of the input */
	size_t cap;
	unsigned char *frame;    /* the current record's payload: in the input
				    buffer, or payload */
	char *label;             /* event label, NUL-terminated */
	size_t labelcap;
	double *values;
	uint32_t *feature;
	double *fvalue;
	size_t fcap;
	char sname[PSG_LABEL_LEN], sunit[PSG_UNIT_LEN];
	char aname[PSG_LABEL_LEN], aunit[PSG_UNIT_LEN];
	float *av;               /* array values, aligned copy */
	size_t avcap;
	uint64_t nrecords;
} stream;

typedef struct cursor {
	const unsigned char *p;
	size_t n;
	int bad;
} cursor;

/* A link's next slice as the input (the last one's reference dropped):
   its length, or 0 at the end. */
static ssize_t next_slice(stream *s)
{
	psg__buf_unref(s->slice.buf);
	if (!psg__link_get(s->link, &s->slice))
		return 0;
	s->in = s->slice.buf + s->slice.off;
	return (ssize_t)s->slice.len;
}

/* From a file descriptor, input goes into counted buffers too (link.c),
   each filled on from where the last read ended and a fresh one once it
   is full: what was read stays where it lies while a writer holds it, so
   a DATA record forwarded unchanged is handed on from there (a link's
   slice, or writev) instead of copied.  Bytes read, at s->in + *at. */
static ssize_t next_read(stream *s, size_t *at)
{
	if (!s->slice.buf || s->have == INBUF) {
		unsigned char *b = psg__buf_new();
		if (!b) {
			errno = ENOMEM;
			return -1;
		}
		psg__buf_unref(s->slice.buf);
		s->slice = (psg__slice){b, 0, INBUF};
		s->in = b, s->have = s->pos = 0;
	}
	*at = s->have;
	return read(s->fd, s->in + s->have, INBUF - s->have);
}

/* More input once the last is used up: 1, 0 at its end, or -1. */
static int refill(stream *s)
{
	for (;;) {
		if (s->eof)
			return 0;
		size_t at = 0;
		ssize_t k = s->link ? next_slice(s) : next_read(s, &at);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0) {
			s->eof = 1;
			return 0;
		}
		s->have = at + (size_t)k, s->pos = at;
		return 1;
	}
}

/* Reads exactly n bytes; returns n, or fewer at end of input, or -1. */
static ssize_t read_exact(stream *s, void *dst, size_t n)
{
	unsigned char *d = dst;
	size_t got = 0;
	while (got < n) {
		int more = s->pos < s->have ? 1 : refill(s);
		if (more < 0)
			return -1;
		if (!more)
			break;
		size_t k = s->have - s->pos;
		if (k > n - got)
			k = n - got;
		memcpy(d + got, s->in + s->pos, k);
		s->pos += k, got += k;
	}
	return (ssize_t)got;
}

static uint32_t get32(cursor *c)
{
	if (c->n < 4) {
		c->bad = 1;
		return 0;
	}
	uint32_t v = psg__get_u32(c->p);
	c->p += 4, c->n -= 4;
	return v;
}

static uint64_t get64(cursor *c)
{
	if (c->n < 8) {
		c->bad = 1;
		return 0;
	}
	uint64_t v = psg__get_u64(c->p);
	c->p += 8, c->n -= 8;
	return v;
}

static double getf64(cursor *c)
{
	uint64_t v = get64(c);
	double d;
	memcpy(&d, &v, 8);
	return d;
}

/* A string into a fixed field (truncated to fit). */
static void getstr(cursor *c, char *dst, size_t dstlen)
{
	uint32_t n = get32(c);
	if (c->bad || n > c->n) {
		c->bad = 1;
		if (dstlen)
			dst[0] = '\0';
		return;
	}
	size_t k = n < dstlen ? n : dstlen - 1;
	memcpy(dst, c->p, k);
	dst[k] = '\0';
	c->p += n, c->n -= n;
}

/* The next n bytes where they lie in the input buffer, if it holds them
   whole and they start 4-aligned (stream 1.3 pads records to keep them
   so): a DATA record's samples are then read in place, not copied -- a
   copy of every sample in every stage was 9 % of psg-night's CPU.  NULL
   if they straddle two reads or lie misaligned (an older writer's
   stream), or on a big-endian machine, where samples are swapped in
   place; the caller copies then. */
static unsigned char *in_place(stream *s, size_t n)
{
	unsigned char *p = s->in + s->pos;
	if (!psg__little_endian() || s->have - s->pos < n ||
	    (uintptr_t)p % 4)
		return NULL;
	s->pos += n;
	return p;
}

/* A DATA record whose frame lies whole in a counted buffer: where, so
   that a writer on this thread can forward it without a copy
   (stream_write.c). */
static void note_origin(stream *s, const unsigned char *frame, uint32_t tag,
			uint32_t len)
{
	if (!s->slice.buf || tag != PSG_TAG_DATA || len < 28)
		return;
	psg__last_read = (psg__origin){(const float *)(void *)(s->frame + 28),
		s->slice.buf, (size_t)(frame - s->slice.buf), 8 + (size_t)len};
}

/* The stream AHEAD bytes on, as much of it as this record's n bytes
   were: what comes is then in the cache before its frame is read. */
#define AHEAD 4096
static void prefetch_ahead(const stream *s, size_t n)
{
	size_t to = s->pos + AHEAD, from = n < AHEAD ? to - n : s->pos;
	if (to > s->have)
		to = s->have;
	for (size_t i = from & ~(size_t)63; i < to; i += 64)
		__builtin_prefetch(s->in + i);
}

static int read_frame(psg_reader *r, uint32_t *tag, uint32_t *len)
{
	stream *s = r->impl;
	unsigned char f[8] = {0};
	const unsigned char *frame = NULL, *hd = f;
	psg__last_read.x = NULL;
	/* A record begins at a slice's start more often than not. */
	if (s->pos == s->have && refill(s) < 0)
		return psg__fail(r, PSG_ERR_IO, "read: %s", strerror(errno));
	if (s->have - s->pos >= 8)
		hd = frame = s->in + s->pos, s->pos += 8;
	else {
		ssize_t k = read_exact(s, f, 8);
		if (k < 0)
			return psg__fail(r, PSG_ERR_IO, "read: %s",
					 strerror(errno));
		if (k < 8)
			return psg__fail(r, PSG_ERR_TRUNCATED,
					 "stream ends without an end record "
					 "(truncated after %llu records)",
					 (unsigned long long)s->nrecords);
	}
	*tag = psg__get_u32(hd);
	*len = psg__get_u32(hd + 4);
	if (*len > PSG_MAX_PAYLOAD)
		return psg__fail(r, PSG_ERR_FORMAT,
				 "record of %u bytes exceeds the limit", *len);
	if ((s->frame = in_place(s, *len))) {
		if (frame)
			note_origin(s, frame, *tag, *len);
		/* The next record's frame: a stage that forwards samples
		   without reading them touches nothing else of the
		   stream, and would wait for each frame from memory. */
		prefetch_ahead(s, 8 + (size_t)*len);
		return PSG_OK;
	}
	if (*len > s->cap) {
		unsigned char *p = realloc(s->payload, *len);
		if (!p)
			return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
		s->payload = p, s->cap = *len;
	}
	s->frame = s->payload;
	ssize_t k = read_exact(s, s->payload, *len);
	if (k < 0)
		return psg__fail(r, PSG_ERR_IO, "read: %s", strerror(errno));
	if ((size_t)k < *len)
		return psg__fail(r, PSG_ERR_TRUNCATED,
				 "stream ends inside a record (truncated)");
	return PSG_OK;
}

static void get_channel(cursor *c, psg_channel *ch)
{
	getstr(c, ch->label, sizeof ch->label);
	getstr(c, ch->kind, sizeof ch->kind);
	getstr(c, ch->unit, sizeof ch->unit);
	getstr(c, ch->transducer, sizeof ch->transducer);
	getstr(c, ch->prefilter, sizeof ch->prefilter);
	ch->phys_min = getf64(c);
	ch->phys_max = getf64(c);
	ch->dig_min = (int32_t)get32(c);
	ch->dig_max = (int32_t)get32(c);
	ch->spr = (int64_t)get64(c);
	ch->period = (int64_t)get64(c);
}

/* Counts in the header are bounded so a corrupt count cannot make us
   allocate gigabytes before the cursor notices the payload is short. */
static int get_count(cursor *c, uint32_t max)
{
	uint32_t n = get32(c);
	if (n > max)
		c->bad = 1;
	return c->bad ? 0 : (int)n;
}

static int parse_ids(cursor *c, psg_header *h)
{
	struct { char *p; size_t n; } ids[] = {
		{h->patient, sizeof h->patient},
		{h->recording, sizeof h->recording},
		{h->patient_code, sizeof h->patient_code},
		{h->sex, sizeof h->sex}, {h->birthdate, sizeof h->birthdate},
		{h->patient_name, sizeof h->patient_name},
		{h->patient_additional, sizeof h->patient_additional},
		{h->admincode, sizeof h->admincode},
		{h->technician, sizeof h->technician},
		{h->equipment, sizeof h->equipment},
		{h->recording_additional, sizeof h->recording_additional}};
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
		getstr(c, ids[i].p, ids[i].n);
	return c->bad;
}

static int parse_lists(cursor *c, psg_header *h)
{
	char buf[PSG_PATH_LEN];
	int n = get_count(c, 1u << 16);
	for (int i = 0; i < n && !c->bad; i++) {
		getstr(c, buf, sizeof buf);
		char *argv[1] = {buf};
		if (psg_header_add_history(h, 1, argv) < 0)
			return -1;
	}
	n = get_count(c, 1u << 16);
	for (int i = 0; i < n && !c->bad; i++) {
		psg_channel ch = {0};
		get_channel(c, &ch);
		if (!c->bad && psg_header_add_channel(h, &ch) < 0)
			c->bad = 1;
	}
	n = get_count(c, 1u << 16);
	for (int i = 0; i < n && !c->bad; i++) {
		psg_feature f;
		getstr(c, f.name, sizeof f.name);
		getstr(c, f.unit, sizeof f.unit);
		getstr(c, f.desc, sizeof f.desc);
		if (!c->bad && psg_header_add_feature(h, f.name, f.unit,
						      f.desc) < 0)
			c->bad = 1;
	}
	n = get_count(c, 1u << 16);
	for (int i = 0; i < n && !c->bad; i++) {
		psg_evtype t;
		const char *fp[PSG_MAX_FIELDS], *up[PSG_MAX_FIELDS];
		getstr(c, t.name, sizeof t.name);
		t.nfields = get_count(c, PSG_MAX_FIELDS);
		for (int k = 0; k < t.nfields; k++) {
			getstr(c, t.field[k], sizeof t.field[k]);
			getstr(c, t.unit[k], sizeof t.unit[k]);
			fp[k] = t.field[k], up[k] = t.unit[k];
		}
		if (!c->bad && psg_header_add_evtype(h, t.name, t.nfields,
						     fp, up) < 0)
			c->bad = 1;
	}
	/* 1.2: the roles, absent from a 1.0/1.1 header. */
	n = c->bad || !c->n ? 0 : get_count(c, 1u << 16);
	for (int i = 0; i < n && !c->bad; i++) {
		psg_role r;
		getstr(c, r.stage, sizeof r.stage);
		getstr(c, r.role, sizeof r.role);
		r.channel = (int)get32(c);
		if (!c->bad && psg_header_add_role(h, r.stage, r.role,
						   r.channel) < 0)
			c->bad = 1;
	}
	return c->bad;
}

static int parse_header(psg_reader *r, const unsigned char *p, size_t n)
{
	cursor c = {p, n, 0};
	psg_header *h = r->h;
	getstr(&c, h->software, sizeof h->software);
	getstr(&c, h->file_type, sizeof h->file_type);
	getstr(&c, h->source, sizeof h->source);
	h->year = (int)get32(&c);
	h->month = (int)get32(&c);
	h->day = (int)get32(&c);
	h->hour = (int)get32(&c);
	h->minute = (int)get32(&c);
	h->second = (int)get32(&c);
	h->subsecond = (int64_t)get64(&c);
	parse_ids(&c, h);
	h->duration = (int64_t)get64(&c);
	h->epoch_len = (int64_t)get64(&c);
	h->epoch_origin = (int64_t)get64(&c);
	if (c.bad || parse_lists(&c, h))
		return psg__fail(r, PSG_ERR_FORMAT, "malformed stream header");
	return PSG_OK;
}

static int decode_data(psg_reader *r, stream *s, uint32_t len,
		       psg_record *rec)
{
	cursor c = {s->frame, len, 0};
	psg_block *b = &rec->block;
	b->channel = (int)get32(&c);
	b->t0 = (int64_t)get64(&c);
	b->offset = (int64_t)get64(&c);
	b->n = (int32_t)get32(&c);
	get32(&c);   /* reserved */
	if (c.bad || b->channel < 0 || b->channel >= r->h->nchannels ||
	    b->n < 0 || (size_t)b->n * 4 != c.n || b->offset < 0)
		return psg__fail(r, PSG_ERR_FORMAT,
				 "malformed data record %llu",
				 (unsigned long long)s->nrecords);
	float *x = (float *)(void *)(s->frame + 28);
	if (!psg__little_endian())
		for (int32_t i = 0; i < b->n; i++) {
			uint32_t u = psg__get_u32((unsigned char *)&x[i]);
			memcpy(&x[i], &u, 4);
		}
	b->x = x;
	rec->kind = PSG_REC_DATA;
	return 1;
}

static int ensure(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	void *q = realloc(*p, need * size);
	if (!q)
		return -1;
	*p = q, *cap = need;
	return 0;
}

static int decode_event(psg_reader *r, stream *s, uint32_t len,
			psg_record *rec)
{
	cursor c = {s->frame, len, 0};
	psg_event *e = &rec->event;
	e->type = (int)get32(&c);
	e->channel = (int)(int32_t)get32(&c);
	e->onset = (int64_t)get64(&c);
	e->duration = (int64_t)get64(&c);
	uint32_t n = get32(&c);
	if (c.bad || n > c.n ||
	    ensure((void **)&s->label, &s->labelcap, (size_t)n + 1, 1))
		goto bad;
	memcpy(s->label, c.p, n);
	s->label[n] = '\0';
	c.p += n, c.n -= n;
	e->label = s->label;
	e->nvalues = (int)get32(&c);
	if (c.bad || e->type < 0 || e->type >= r->h->nevtypes ||
	    e->channel < -1 || e->channel >= r->h->nchannels ||
	    e->nvalues != r->h->evtypes[e->type].nfields)
		goto bad;
	for (int i = 0; i < e->nvalues; i++)
		s->values[i] = getf64(&c);
	e->values = s->values;
	if (c.bad)
		goto bad;
	rec->kind = PSG_REC_EVENT;
	return 1;
bad:
	return psg__fail(r, PSG_ERR_FORMAT, "malformed event record %llu",
			 (unsigned long long)s->nrecords);
}

static int decode_epoch(psg_reader *r, stream *s, uint32_t len,
			psg_record *rec)
{
	cursor c = {s->frame, len, 0};
	psg_epoch *e = &rec->epoch;
	e->epoch = (int64_t)get64(&c);
	uint32_t n = get32(&c);
	if (c.bad || n > c.n / 12 || e->epoch < 0)
		goto bad;
	if (n > s->fcap) {
		uint32_t *f = realloc(s->feature, n * sizeof *f);
		if (f)
			s->feature = f;
		double *v = realloc(s->fvalue, n * sizeof *v);
		if (v)
			s->fvalue = v;
		if (!f || !v)
			return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
		s->fcap = n;
	}
	for (uint32_t i = 0; i < n; i++) {
		s->feature[i] = get32(&c);
		s->fvalue[i] = getf64(&c);
		if (s->feature[i] >= (uint32_t)r->h->nfeatures)
			goto bad;
	}
	e->n = (int)n;
	e->feature = s->feature;
	e->value = s->fvalue;
	rec->kind = PSG_REC_EPOCH;
	return 1;
bad:
	return psg__fail(r, PSG_ERR_FORMAT, "malformed epoch record %llu",
			 (unsigned long long)s->nrecords);
}

static int decode_summary(psg_reader *r, stream *s, uint32_t len,
			  psg_record *rec)
{
	cursor c = {s->frame, len, 0};
	getstr(&c, s->sname, sizeof s->sname);
	getstr(&c, s->sunit, sizeof s->sunit);
	rec->summary.value = getf64(&c);
	if (c.bad)
		return psg__fail(r, PSG_ERR_FORMAT, "malformed summary record");
	rec->summary.name = s->sname;
	rec->summary.unit = s->sunit;
	rec->kind = PSG_REC_SUMMARY;
	return 1;
}

static int decode_array(psg_reader *r, stream *s, uint32_t len,
			psg_record *rec)
{
	cursor c = {s->frame, len, 0};
	psg_array *a = &rec->array;
	getstr(&c, s->aname, sizeof s->aname);
	a->channel = (int)(int32_t)get32(&c);
	a->row = (int64_t)get64(&c);
	a->x0 = getf64(&c);
	a->dx = getf64(&c);
	getstr(&c, s->aunit, sizeof s->aunit);
	uint32_t n = get32(&c);
	if (c.bad || a->channel < -1 || a->channel >= r->h->nchannels ||
	    a->row < 0 || n > c.n / 4)
		return psg__fail(r, PSG_ERR_FORMAT, "malformed array record "
				 "%llu", (unsigned long long)s->nrecords);
	if (n > s->avcap) {
		float *v = realloc(s->av, n * sizeof *v);
		if (!v)
			return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
		s->av = v, s->avcap = n;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t u = get32(&c);
		memcpy(&s->av[i], &u, 4);
	}
	a->name = s->aname;
	a->unit = s->aunit;
	a->n = (int)n;
	a->v = s->av;
	rec->kind = PSG_REC_ARRAY;
	return 1;
}

static int decode_end(psg_reader *r, stream *s, uint32_t len, psg_record *rec)
{
	cursor c = {s->frame, len, 0};
	rec->end.duration = (int64_t)get64(&c);
	rec->end.nrecords = get64(&c);
	getstr(&c, rec->end.sha256, sizeof rec->end.sha256);
	if (c.bad)
		return psg__fail(r, PSG_ERR_FORMAT, "malformed end record");
	if (rec->end.nrecords != s->nrecords)
		return psg__fail(r, PSG_ERR_FORMAT,
				 "end record counts %llu records, stream had "
				 "%llu (records lost)",
				 (unsigned long long)rec->end.nrecords,
				 (unsigned long long)s->nrecords);
	/* "Nothing after END" (docs/stream.md): a record there is two
	   streams run together or corruption, not something to drop. */
	unsigned char more;
	ssize_t k = read_exact(s, &more, 1);
	if (k < 0)
		return psg__fail(r, PSG_ERR_IO, "read: %s", strerror(errno));
	if (k > 0)
		return psg__fail(r, PSG_ERR_FORMAT, "data after the end record");
	rec->kind = PSG_REC_END;
	if (r->h->duration < 0)
		r->h->duration = rec->end.duration;
	r->done = 1;
	return 1;
}

static int plausible_tag(uint32_t tag)
{
	for (int i = 0; i < 4; i++, tag >>= 8) {
		unsigned c = tag & 0xff;
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == ' '))
			return 0;
	}
	return 1;
}

static int stream_next(psg_reader *r, psg_record *rec)
{
	stream *s = r->impl;
	uint32_t tag, len;
	for (;;) {
		int st = read_frame(r, &tag, &len);
		if (st)
			return st;
		switch (tag) {
		case PSG_TAG_DATA:
			st = decode_data(r, s, len, rec);
			break;
		case PSG_TAG_EVNT:
			st = decode_event(r, s, len, rec);
			break;
		case PSG_TAG_EPOC:
			st = decode_epoch(r, s, len, rec);
			break;
		case PSG_TAG_SUMM:
			st = decode_summary(r, s, len, rec);
			break;
		case PSG_TAG_ARRY:
			st = decode_array(r, s, len, rec);
			break;
		case PSG_TAG_END:
			return decode_end(r, s, len, rec);
		case PSG_TAG_HEAD:
			return psg__fail(r, PSG_ERR_FORMAT,
					 "second header inside the stream");
		default:
			/* A newer minor version's record is skipped; a tag
			   that is not four capitals, digits, '_' or ' ' is
			   corruption, not news. */
			if (!plausible_tag(tag))
				return psg__fail(r, PSG_ERR_FORMAT,
						 "corrupt record tag 0x%08x "
						 "after %llu records", tag,
						 (unsigned long long)s->nrecords);
			s->nrecords++;
			continue;
		}
		if (st == 1)
			s->nrecords++;
		return st;
	}
}

static void stream_close(psg_reader *r)
{
	stream *s = r->impl;
	if (!s)
		return;
	if (s->owns_fd)
		close(s->fd);
	psg__buf_unref(s->slice.buf);
	free(s->payload);
	free(s->label);
	free(s->values);
	free(s->feature);
	free(s->fvalue);
	free(s->av);
	free(s);
}

static const struct psg_reader_ops stream_ops = {stream_next, stream_close};

static int open_stream(psg_reader *r, int fd, int owns_fd, psg_link *link)
{
	stream *s = calloc(1, sizeof *s);
	unsigned char magic[PSG_MAGIC_LEN + 4];
	uint32_t tag, len;
	if (!s || !(s->values = malloc(PSG_MAX_FIELDS * sizeof *s->values))) {
		free(s);
		return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	}
	s->fd = fd, s->owns_fd = owns_fd, s->link = link;
	r->impl = s, r->ops = &stream_ops, r->is_stream = 1;
	ssize_t k = read_exact(s, magic, sizeof magic);
	if (k < 0)
		return psg__fail(r, PSG_ERR_IO, "read: %s", strerror(errno));
	if (k == 0)
		return psg__fail(r, PSG_ERR_TRUNCATED,
				 "empty input (no stream)");
	if ((size_t)k < sizeof magic || memcmp(magic, PSG_MAGIC, PSG_MAGIC_LEN))
		return psg__fail(r, PSG_ERR_FORMAT,
				 "not a psgpipe stream (bad magic)");
	uint32_t ver = psg__get_u32(magic + PSG_MAGIC_LEN);
	if ((ver & 0xffff) != PSG_STREAM_MAJOR)
		return psg__fail(r, PSG_ERR_VERSION,
				 "stream version %u.%u, this build reads %d.x",
				 ver & 0xffff, ver >> 16, PSG_STREAM_MAJOR);
	r->stream_version = ver;
	int st = read_frame(r, &tag, &len);
	if (st)
		return st;
	if (tag != PSG_TAG_HEAD)
		return psg__fail(r, PSG_ERR_FORMAT, "stream has no header");
	return parse_header(r, s->frame, len);
}

int psg__open_stream(psg_reader *r, int fd, int owns_fd)
{
	return open_stream(r, fd, owns_fd, NULL);
}

int psg__open_stream_link(psg_reader *r, psg_link *l)
{
	return open_stream(r, -1, 0, l);
}
