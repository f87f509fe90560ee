/*
 * stream_write.c -- encodes the psgpipe stream (docs/stream.md).
 *
 * Records are framed as tag (u32) + payload length (u32) + payload, all
 * little-endian.  What a writer emits goes out as slices of counted
 * buffers (link.c): its own 1-MiB buffer, and, for a DATA record forwarded
 * unchanged from its reader's counted buffer (a link's, or one a reader on
 * a file descriptor read into), that record where it lies.  Into a link
 * the slices are handed over; into a file descriptor they are written
 * with writev(2), about a megabyte a call (one syscall per megabyte keeps
 * the pipe, not the encoder, the limit), so a forwarded record is not
 * copied there either.
 */
#include "internal.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


struct psg_writer {
	int fd;
	psg_link *link;           /* if not NULL, the output instead of fd */
	unsigned char *out;       /* a counted buffer (link.c) */
	size_t used;
	size_t sent;              /* of out, in the batch or gone */
	psg__slice lent;          /* records forwarded where they lie, not
				     yet handed on (with a reference) */
	psg__slice batch[PSG__BATCH];   /* slices to hand over together */
	int nbatch;
	size_t batch_bytes;
	unsigned char *rec;       /* payload under construction */
	size_t reclen, reccap;
	uint64_t nrecords;
	psg_header *h;            /* private copy, to validate records */
	int failed;
	char err[256];
};

static int io_error(psg_writer *w)
{
	snprintf(w->err, sizeof w->err, "write: %s", strerror(errno));
	return w->failed = PSG_ERR_IO;
}

/* ---- slices, not copies (link.c) ---- */

/* The n slices into fd, in order, whatever write(2) takes at a time. */
static int writev_all(int fd, const psg__slice *s, int n)
{
	struct iovec iov[PSG__BATCH];
	int k = 0;
	for (int i = 0; i < n; i++)
		iov[i] = (struct iovec){s[i].buf + s[i].off, s[i].len};
	while (k < n) {
		ssize_t got = writev(fd, iov + k, n - k);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -1;
		for (; k < n && (size_t)got >= iov[k].iov_len; k++)
			got -= (ssize_t)iov[k].iov_len;
		if (k < n) {
			iov[k].iov_base = (char *)iov[k].iov_base + got;
			iov[k].iov_len -= (size_t)got;
		}
	}
	return 0;
}

/* Into a link, slices go over in batches of half a buffer: a stage that
   forwards records and adds its own makes many small slices, and a
   reader woken for each would spend its time switching threads.  Into a
   file descriptor they are written, and the own buffer, all of it gone,
   is filled again from its start. */
static int send_batch(psg_writer *w)
{
	int n = w->nbatch, bad = 0;
	w->nbatch = 0, w->batch_bytes = 0;
	if (!n || w->link)
		return n ? psg__link_put(w->link, w->batch, n) : 0;
	bad = writev_all(w->fd, w->batch, n);
	for (int i = 0; i < n; i++)
		psg__buf_unref(w->batch[i].buf);
	if (w->sent == w->used)
		w->sent = w->used = 0;
	return bad;
}

static int put_slice(psg_writer *w, psg__slice s)
{
	w->batch[w->nbatch++] = s;
	w->batch_bytes += s.len;
	if (w->nbatch == PSG__BATCH ||
	    w->batch_bytes >= (w->link ? PSG__OUTBUF / 2 : PSG__OUTBUF))
		return send_batch(w);
	return 0;
}

/* Own bytes or lent ones are pending, never both: each is handed over
   before the other kind is added, which keeps the stream's order. */
static int put_own(psg_writer *w)
{
	if (w->used == w->sent)
		return 0;
	psg__buf_ref(w->out);
	psg__slice s = {w->out, w->sent, w->used - w->sent};
	w->sent = w->used;
	return put_slice(w, s);
}

static int put_lent(psg_writer *w)
{
	psg__slice s = w->lent;
	w->lent = (psg__slice){NULL, 0, 0};
	return s.buf ? put_slice(w, s) : 0;
}

/* The own buffer handed over as it is, and a fresh one to write in (into
   a file descriptor: written, and the same one again). */
static int next_own(psg_writer *w)
{
	if (put_own(w))
		return -1;
	if (!w->link)
		return send_batch(w);
	psg__buf_unref(w->out);
	w->used = w->sent = 0;
	if (!(w->out = psg__buf_new())) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

static int slice_emit(psg_writer *w, const unsigned char *p, size_t n)
{
	if (put_lent(w))
		return -1;
	while (n) {
		size_t room = PSG__OUTBUF - w->used, k = n < room ? n : room;
		memcpy(w->out + w->used, p, k);
		w->used += k, p += k, n -= k;
		if (w->used == PSG__OUTBUF && next_own(w))
			return -1;
	}
	return 0;
}

/* A record of n bytes, frame included, starts a new buffer rather than
   straddle two: the next reader then finds it whole, in place, and can
   lend it on.  A record bigger than a buffer straddles anyway (it is
   read by a copy). */
static int whole_record(psg_writer *w, size_t n)
{
	if (!w->link || n > PSG__OUTBUF || w->used + n <= PSG__OUTBUF)
		return 0;
	return next_own(w) ? io_error(w) : PSG_OK;
}

/* Buffers that may exist before a writer copies instead of lending: a
   slice pins its whole buffer, so lending stops before pinned buffers
   could pile up (psg-night's chain has about 20). */
#define LEND_MAX_BUFS 64

/* A DATA record its reader found in a counted buffer, written back
   unchanged (the same samples, the same frame): handed on as the slice
   where it lies.  1 lent, 0 not (copy it), -1 failed. */
static int lend(psg_writer *w, const psg_block *b, const unsigned char *head,
		size_t headlen)
{
	const psg__origin *o = &psg__last_read;
	if (!o->x || o->x != b->x ||
	    o->len != headlen + 4 * (size_t)b->n ||
	    memcmp(o->buf + o->off, head, headlen) ||
	    psg__buf_live() > LEND_MAX_BUFS)
		return 0;
	if (put_own(w))
		return -1;
	if (w->lent.buf == o->buf && w->lent.off + w->lent.len == o->off) {
		w->lent.len += o->len;
		return 1;
	}
	if (put_lent(w))
		return -1;
	psg__buf_ref(o->buf);
	w->lent = (psg__slice){o->buf, o->off, o->len};
	return 1;
}

static int flush_out(psg_writer *w)
{
	int bad = put_lent(w) || put_own(w) || send_batch(w);
	return bad ? io_error(w) : PSG_OK;
}

static int emit(psg_writer *w, const void *p, size_t n)
{
	return slice_emit(w, p, n) ? io_error(w) : PSG_OK;
}

/* ---- payload builder ---- */

static int reserve(psg_writer *w, size_t n)
{
	if (w->reclen + n <= w->reccap)
		return 0;
	size_t cap = w->reccap ? w->reccap : 4096;
	while (cap < w->reclen + n)
		cap *= 2;
	unsigned char *p = realloc(w->rec, cap);
	if (!p)
		return w->failed = PSG_ERR_NOMEM;
	w->rec = p, w->reccap = cap;
	return 0;
}

static void put32(psg_writer *w, uint32_t v)
{
	if (!reserve(w, 4))
		psg__put_u32(w->rec + w->reclen, v), w->reclen += 4;
}

static void put64(psg_writer *w, uint64_t v)
{
	if (!reserve(w, 8))
		psg__put_u64(w->rec + w->reclen, v), w->reclen += 8;
}

static void putf64(psg_writer *w, double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	put64(w, v);
}

static void putstr(psg_writer *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	put32(w, (uint32_t)n);
	if (n && !reserve(w, n))
		memcpy(w->rec + w->reclen, s, n), w->reclen += n;
}

/* Zeros up to a multiple of 4 bytes (stream 1.3): every record then
   starts 4-aligned, so a reader can hand out a DATA record's samples where
   they lie in its input buffer instead of copying them (docs/stream.md).
   Readers ignore bytes beyond the fields they know. */
static void pad4(psg_writer *w)
{
	size_t n = (4 - w->reclen % 4) % 4;
	if (n && !reserve(w, n))
		memset(w->rec + w->reclen, 0, n), w->reclen += n;
}

static int end_record(psg_writer *w, uint32_t tag)
{
	unsigned char frame[8];
	pad4(w);
	if (w->failed)
		return w->failed;
	psg__put_u32(frame, tag);
	psg__put_u32(frame + 4, (uint32_t)w->reclen);
	w->reclen = 0;
	if (whole_record(w, 8 + (size_t)psg__get_u32(frame + 4)) ||
	    emit(w, frame, 8) || emit(w, w->rec, psg__get_u32(frame + 4)))
		return PSG_ERR_IO;
	if (tag != PSG_TAG_HEAD)
		w->nrecords++;
	return PSG_OK;
}

/* ---- header ---- */

static void put_channel(psg_writer *w, const psg_channel *c)
{
	putstr(w, c->label);
	putstr(w, c->kind);
	putstr(w, c->unit);
	putstr(w, c->transducer);
	putstr(w, c->prefilter);
	putf64(w, c->phys_min);
	putf64(w, c->phys_max);
	put32(w, (uint32_t)c->dig_min);
	put32(w, (uint32_t)c->dig_max);
	put64(w, (uint64_t)c->spr);
	put64(w, (uint64_t)c->period);
}

static void put_header(psg_writer *w, const psg_header *h)
{
	const char *ids[] = {h->patient, h->recording, h->patient_code, h->sex,
		h->birthdate, h->patient_name, h->patient_additional,
		h->admincode, h->technician, h->equipment,
		h->recording_additional};
	putstr(w, h->software);
	putstr(w, h->file_type);
	putstr(w, h->source);
	put32(w, (uint32_t)h->year);
	put32(w, (uint32_t)h->month);
	put32(w, (uint32_t)h->day);
	put32(w, (uint32_t)h->hour);
	put32(w, (uint32_t)h->minute);
	put32(w, (uint32_t)h->second);
	put64(w, (uint64_t)h->subsecond);
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
		putstr(w, ids[i]);
	put64(w, (uint64_t)h->duration);
	put64(w, (uint64_t)h->epoch_len);
	put64(w, (uint64_t)h->epoch_origin);
	put32(w, (uint32_t)h->nhistory);
	for (int i = 0; i < h->nhistory; i++)
		putstr(w, h->history[i]);
	put32(w, (uint32_t)h->nchannels);
	for (int i = 0; i < h->nchannels; i++)
		put_channel(w, &h->channels[i]);
	put32(w, (uint32_t)h->nfeatures);
	for (int i = 0; i < h->nfeatures; i++) {
		putstr(w, h->features[i].name);
		putstr(w, h->features[i].unit);
		putstr(w, h->features[i].desc);
	}
	put32(w, (uint32_t)h->nevtypes);
	for (int i = 0; i < h->nevtypes; i++) {
		const psg_evtype *t = &h->evtypes[i];
		putstr(w, t->name);
		put32(w, (uint32_t)t->nfields);
		for (int k = 0; k < t->nfields; k++) {
			putstr(w, t->field[k]);
			putstr(w, t->unit[k]);
		}
	}
	/* 1.2: appended, so a 1.1 reader ignores it. */
	put32(w, (uint32_t)h->nroles);
	for (int i = 0; i < h->nroles; i++) {
		putstr(w, h->roles[i].stage);
		putstr(w, h->roles[i].role);
		put32(w, (uint32_t)h->roles[i].channel);
	}
}

/* A pipe of 64 KiB (Linux's default) makes the two stages switch 16
   times per megabyte; 1 MiB halves the cost of the pipe in a chain.  A
   Linux extension, so tried only where it exists, and silently. */
static void widen_pipe(int fd)
{
#if defined(__linux__)
	struct stat st;
	if (!fstat(fd, &st) && S_ISFIFO(st.st_mode))
		(void)fcntl(fd, 1031 /* F_SETPIPE_SZ */, 1 << 20);
#else
	(void)fd;
#endif
}

static psg_writer *open_writer(int fd, psg_link *link, const psg_header *h,
			       int *status)
{
	psg_writer *w = calloc(1, sizeof *w);
	int st = PSG_ERR_NOMEM;
	if (!w)
		goto fail;
	w->fd = fd, w->link = link;
	if (!(w->out = psg__buf_new()) ||
	    !(w->h = psg_header_new()) || psg_header_copy(w->h, h))
		goto fail;
	if (!link)
		widen_pipe(fd);
	unsigned char ver[4];
	psg__put_u32(ver, PSG_STREAM_MAJOR | (uint32_t)PSG_STREAM_MINOR << 16);
	put_header(w, h);
	if ((st = emit(w, PSG_MAGIC, PSG_MAGIC_LEN)) ||
	    (st = emit(w, ver, 4)) || (st = end_record(w, PSG_TAG_HEAD)) ||
	    (st = flush_out(w)))
		goto fail;
	if (status)
		*status = PSG_OK;
	return w;
fail:
	if (status)
		*status = st;
	psg_writer_free(w);
	return NULL;
}

psg_writer *psg_writer_open_fd(int fd, const psg_header *h, int *status)
{
	return open_writer(fd, NULL, h, status);
}

psg_writer *psg_writer_open_link(psg_link *l, const psg_header *h,
				 int *status)
{
	return open_writer(-1, l, h, status);
}

void psg_writer_free(psg_writer *w)
{
	if (!w)
		return;
	psg__buf_unref(w->out);
	psg__buf_unref(w->lent.buf);
	for (int i = 0; i < w->nbatch; i++)
		psg__buf_unref(w->batch[i].buf);
	free(w->rec);
	psg_header_free(w->h);
	free(w);
}

const char *psg_writer_errmsg(const psg_writer *w)
{
	return w->err[0] ? w->err : psg_strerror(w->failed);
}

static int bad(psg_writer *w, const char *what)
{
	snprintf(w->err, sizeof w->err, "invalid record: %s", what);
	return PSG_ERR_ARG;
}

int psg_write_block(psg_writer *w, const psg_block *b)
{
	unsigned char head[8 + 28];
	if (b->channel < 0 || b->channel >= w->h->nchannels)
		return bad(w, "block channel out of range");
	if (b->n > 0 && !b->x)
		return bad(w, "block without samples");
	if (b->n < 0 || (uint32_t)b->n > PSG_MAX_BLOCK || b->offset < 0)
		return bad(w, "block size");
	if (w->failed)
		return w->failed;
	/* Samples go straight to the output buffer: no payload copy. */
	psg__put_u32(head, PSG_TAG_DATA);
	psg__put_u32(head + 4, 28 + 4 * (uint32_t)b->n);
	psg__put_u32(head + 8, (uint32_t)b->channel);
	psg__put_u64(head + 12, (uint64_t)b->t0);
	psg__put_u64(head + 20, (uint64_t)b->offset);
	psg__put_u32(head + 28, (uint32_t)b->n);
	psg__put_u32(head + 32, 0);   /* reserved, keeps samples 4-aligned */
	int lent = lend(w, b, head, sizeof head);
	if (lent < 0)
		return io_error(w);
	if (lent) {
		w->nrecords++;
		return PSG_OK;
	}
	if (whole_record(w, sizeof head + 4 * (size_t)b->n) ||
	    emit(w, head, sizeof head))
		return PSG_ERR_IO;
	if (psg__little_endian()) {
		if (emit(w, b->x, 4 * (size_t)b->n))
			return PSG_ERR_IO;
	} else {
		for (int32_t i = 0; i < b->n; i++) {
			unsigned char v[4];
			uint32_t u;
			memcpy(&u, &b->x[i], 4);
			psg__put_u32(v, u);
			if (emit(w, v, 4))
				return PSG_ERR_IO;
		}
	}
	w->nrecords++;
	return PSG_OK;
}

int psg_write_event(psg_writer *w, const psg_event *e)
{
	if (e->type < 0 || e->type >= w->h->nevtypes)
		return bad(w, "event type out of range");
	if (e->channel < -1 || e->channel >= w->h->nchannels)
		return bad(w, "event channel out of range");
	if (e->nvalues != w->h->evtypes[e->type].nfields)
		return bad(w, "event field count differs from its type");
	put32(w, (uint32_t)e->type);
	put32(w, (uint32_t)e->channel);
	put64(w, (uint64_t)e->onset);
	put64(w, (uint64_t)e->duration);
	putstr(w, e->label);
	put32(w, (uint32_t)e->nvalues);
	for (int i = 0; i < e->nvalues; i++)
		putf64(w, e->values[i]);
	return end_record(w, PSG_TAG_EVNT);
}

int psg_write_epoch(psg_writer *w, const psg_epoch *e)
{
	if (e->epoch < 0 || e->n < 0)
		return bad(w, "epoch index");
	for (int i = 0; i < e->n; i++)
		if (e->feature[i] >= (uint32_t)w->h->nfeatures)
			return bad(w, "epoch feature out of range");
	put64(w, (uint64_t)e->epoch);
	put32(w, (uint32_t)e->n);
	for (int i = 0; i < e->n; i++) {
		put32(w, e->feature[i]);
		putf64(w, e->value[i]);
	}
	return end_record(w, PSG_TAG_EPOC);
}

int psg_write_summary(psg_writer *w, const psg_summary *s)
{
	if (!s->name || !*s->name)
		return bad(w, "summary without a name");
	/* Readers keep these in fixed fields: refuse what they would cut. */
	if (strlen(s->name) >= PSG_LABEL_LEN ||
	    (s->unit && strlen(s->unit) >= PSG_UNIT_LEN))
		return bad(w, "summary name or unit too long");
	putstr(w, s->name);
	putstr(w, s->unit);
	putf64(w, s->value);
	return end_record(w, PSG_TAG_SUMM);
}

int psg_write_array(psg_writer *w, const psg_array *a)
{
	if (!a->name || !*a->name || strlen(a->name) >= PSG_LABEL_LEN ||
	    (a->unit && strlen(a->unit) >= PSG_UNIT_LEN))
		return bad(w, "array name or unit");
	if (a->channel < -1 || a->channel >= w->h->nchannels || a->row < 0 ||
	    a->n < 0 || (uint32_t)a->n > PSG_MAX_BLOCK || (a->n && !a->v))
		return bad(w, "array channel, row or size");
	putstr(w, a->name);
	put32(w, (uint32_t)a->channel);
	put64(w, (uint64_t)a->row);
	putf64(w, a->x0);
	putf64(w, a->dx);
	putstr(w, a->unit);
	put32(w, (uint32_t)a->n);
	for (int i = 0; i < a->n; i++) {
		uint32_t u;
		memcpy(&u, &a->v[i], 4);
		put32(w, u);
	}
	return end_record(w, PSG_TAG_ARRY);
}

int psg_write_record(psg_writer *w, const psg_record *rec)
{
	switch (rec->kind) {
	case PSG_REC_ARRAY: return psg_write_array(w, &rec->array);
	case PSG_REC_DATA: return psg_write_block(w, &rec->block);
	case PSG_REC_EVENT: return psg_write_event(w, &rec->event);
	case PSG_REC_EPOCH: return psg_write_epoch(w, &rec->epoch);
	case PSG_REC_SUMMARY: return psg_write_summary(w, &rec->summary);
	}
	return bad(w, "record kind");
}

int psg_writer_flush(psg_writer *w)
{
	return w->failed ? w->failed : flush_out(w);
}

int psg_writer_finish(psg_writer *w, const psg_end *end)
{
	uint64_t n = w->nrecords;
	put64(w, (uint64_t)end->duration);
	put64(w, n);
	putstr(w, end->sha256);
	if (end_record(w, PSG_TAG_END))
		return w->failed ? w->failed : PSG_ERR_IO;
	return flush_out(w);
}
