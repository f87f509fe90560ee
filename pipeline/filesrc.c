/* filesrc.c -- helpers shared by the EDF backends (see filesrc.h). */
#include "filesrc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int filesrc_queue_push(filesrc_queue *q, int64_t onset, int64_t duration,
		       const char *text)
{
	if (q->head && q->head == q->n)
		q->head = q->n = 0;    /* drained: reuse from the start */
	if (q->n == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 64;
		filesrc_ann *a = realloc(q->a, cap * sizeof *a);
		if (!a)
			return PSG_ERR_NOMEM;
		q->a = a, q->cap = cap;
	}
	char *t = strdup(text);
	if (!t)
		return PSG_ERR_NOMEM;
	q->a[q->n++] = (filesrc_ann){onset, duration, t};
	return PSG_OK;
}

static int by_onset(const void *a, const void *b)
{
	const filesrc_ann *x = a, *y = b;
	if (x->onset != y->onset)
		return x->onset < y->onset ? -1 : 1;
	/* qsort is not stable; the text pointer order is allocation order,
	   which is not file order either, so compare durations then text to
	   at least be deterministic. */
	if (x->duration != y->duration)
		return x->duration < y->duration ? -1 : 1;
	return strcmp(x->text, y->text);
}

void filesrc_queue_sort(filesrc_queue *q)
{
	if (q->n > q->head)   /* qsort(NULL, 0) is undefined */
		qsort(q->a + q->head, q->n - q->head, sizeof *q->a, by_onset);
}

int filesrc_queue_pop(filesrc_queue *q, int64_t limit, psg_record *rec,
		      char **hold)
{
	free(*hold);
	*hold = NULL;
	if (q->head == q->n || q->a[q->head].onset >= limit)
		return 0;
	filesrc_ann *a = &q->a[q->head++];
	*hold = a->text;
	rec->kind = PSG_REC_EVENT;
	rec->event = (psg_event){.type = 0, .channel = -1, .onset = a->onset,
		.duration = a->duration, .label = a->text};
	return 1;
}

void filesrc_queue_free(filesrc_queue *q)
{
	for (size_t i = q->head; i < q->n; i++)
		free(q->a[i].text);
	free(q->a);
	memset(q, 0, sizeof *q);
}

int filesrc_declare(psg_header *h)
{
	int t = psg_header_add_evtype(h, "annotations", 0, NULL, NULL);
	return t < 0 ? t : PSG_OK;
}

static int two(const char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

int filesrc_parse_start(psg_header *h, const char *date, const char *time)
{
	static const char *mon[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
		"JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
	int d = two(date), m = two(date + 3), y = two(date + 6);
	int hh = two(time), mm = two(time + 3), ss = two(time + 6);
	if (d < 1 || d > 31 || m < 1 || m > 12 || y < 0 || hh < 0 ||
	    hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
		return PSG_ERR_FORMAT;
	/* EDF's two-digit years: 85-99 are 19xx, 00-84 are 20xx. */
	h->year = y >= 85 ? 1900 + y : 2000 + y;
	h->month = m, h->day = d;
	h->hour = hh, h->minute = mm, h->second = ss;
	const char *s = h->recording;
	if (!strncmp(s, "Startdate ", 10) && strlen(s) >= 21 && s[12] == '-' &&
	    s[16] == '-') {
		for (int i = 0; i < 12; i++)
			if (!strncasecmp(s + 13, mon[i], 3)) {
				int yyyy = atoi(s + 17);
				if (yyyy > 1900 && yyyy % 100 == y)
					h->year = yyyy;
			}
	}
	return PSG_OK;
}

int64_t filesrc_records_per_chunk(int64_t record_ticks, double seconds)
{
	if (seconds <= 0)
		seconds = 1;
	if (record_ticks <= 0)
		return 1;
	int64_t k = (int64_t)(seconds * PSG_TICKS_PER_SEC / record_ticks + 0.5);
	return k < 1 ? 1 : k;
}

int filesrc_end(psg_reader *r, psg_hasher **hs, psg_record *rec)
{
	rec->kind = PSG_REC_END;
	rec->end.duration = r->h->duration;
	rec->end.nrecords = 0;
	psg__hasher_finish(*hs, rec->end.sha256);
	*hs = NULL;
	r->done = 1;
	return 1;
}

/* ---- numeric header fields ---- */

int filesrc_num_field(const char *p, size_t n, double *v)
{
	char buf[32], *end;
	psg__copy_trim(buf, sizeof buf, p, n);
	char *s = buf;
	while (*s == ' ')
		s++;
	if (!*s)
		return -1;
	*v = strtod(s, &end);
	return *end || !isfinite(*v) ? -1 : 0;   /* "nan", "inf", "1e999" */
}

/* A field that must hold a whole number within [lo, hi]. */
int filesrc_int_field(const char *p, size_t n, double lo, double hi,
		     int64_t *out)
{
	double v;
	if (filesrc_num_field(p, n, &v) || v != floor(v) || v < lo || v > hi)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int filesrc_main_numbers(psg_reader *r, const char *m, int64_t *hdrbytes,
			 int64_t *nrec, int64_t *recdur, int *ns)
{
	double v;
	int64_t n;
	if (filesrc_int_field(m + 184, 8, 512, 256.0 * 4097, hdrbytes))
		return psg__fail(r, PSG_ERR_FORMAT, "bad header size field");
	/* -1: a recording that was not closed (counted from the size);
	   any other negative or fractional count is corruption. */
	if (filesrc_int_field(m + 236, 8, -1, 99999999, nrec))
		return psg__fail(r, PSG_ERR_FORMAT,
				 "bad number-of-records field");
	/* Longer records than the longest recording are corruption too;
	   the bound keeps the tick count exact. */
	if (filesrc_num_field(m + 244, 8, &v) || v < 0 ||
	    v * PSG_TICKS_PER_SEC > (double)psg_max_duration())
		return psg__fail(r, PSG_ERR_FORMAT,
				 "bad record duration field");
	*recdur = (int64_t)(v * PSG_TICKS_PER_SEC + 0.5);
	if (filesrc_int_field(m + 252, 4, 1, 4096, &n))
		return psg__fail(r, PSG_ERR_FORMAT,
				 "bad number-of-signals field");
	*ns = (int)n;
	return PSG_OK;
}
