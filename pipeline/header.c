/* header.c -- the recording header: channels, declared columns, history. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

psg_header *psg_header_new(void)
{
	psg_header *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	psg__strlcpy(h->software, "psgpipe " PSG_VERSION, sizeof h->software);
	h->day = h->month = 1;
	h->year = 1985;          /* EDF's "clipping date" for unknown dates */
	h->duration = -1;
	h->epoch_len = 30 * PSG_TICKS_PER_SEC;
	return h;
}

void psg_header_free(psg_header *h)
{
	if (!h)
		return;
	for (int i = 0; i < h->nhistory; i++)
		free(h->history[i]);
	free(h->history);
	free(h->roles);
	free(h->channels);
	free(h->features);
	free(h->evtypes);
	free(h);
}

static void *dup_array(const void *src, size_t n, size_t size, int *ok)
{
	void *p;
	if (!n)
		return NULL;
	p = malloc(n * size);
	if (!p)
		*ok = 0;
	else
		memcpy(p, src, n * size);
	return p;
}

int psg_header_copy(psg_header *dst, const psg_header *src)
{
	int ok = 1;
	*dst = *src;
	dst->channels = dup_array(src->channels, src->nchannels,
				  sizeof *src->channels, &ok);
	dst->features = dup_array(src->features, src->nfeatures,
				  sizeof *src->features, &ok);
	dst->evtypes = dup_array(src->evtypes, src->nevtypes,
				 sizeof *src->evtypes, &ok);
	dst->roles = dup_array(src->roles, src->nroles, sizeof *src->roles,
			       &ok);
	dst->history = calloc(src->nhistory + 1, sizeof *dst->history);
	dst->nhistory = 0;
	if (!dst->history)
		ok = 0;
	for (int i = 0; ok && i < src->nhistory; i++) {
		dst->history[i] = strdup(src->history[i]);
		if (!dst->history[i])
			ok = 0;
		else
			dst->nhistory++;
	}
	return ok ? PSG_OK : PSG_ERR_NOMEM;
}

/* Grows an array by one element; returns its index or PSG_ERR_NOMEM. */
static int grow(void **arr, int *n, size_t size)
{
	void *p = realloc(*arr, (size_t)(*n + 1) * size);
	if (!p)
		return PSG_ERR_NOMEM;
	*arr = p;
	memset((char *)p + (size_t)*n * size, 0, size);
	return (*n)++;
}

int psg_header_add_channel(psg_header *h, const psg_channel *c)
{
	if (c->spr <= 0 || c->period <= 0)
		return PSG_ERR_ARG;
	int i = grow((void **)&h->channels, &h->nchannels, sizeof *c);
	if (i >= 0)
		h->channels[i] = *c;
	return i;
}

int psg_header_add_feature(psg_header *h, const char *name, const char *unit,
			   const char *desc)
{
	if (!name || !*name || psg_header_find_feature(h, name) >= 0)
		return PSG_ERR_ARG;
	int i = grow((void **)&h->features, &h->nfeatures, sizeof *h->features);
	if (i < 0)
		return i;
	psg__strlcpy(h->features[i].name, name, PSG_LABEL_LEN);
	psg__strlcpy(h->features[i].unit, unit ? unit : "", PSG_UNIT_LEN);
	psg__strlcpy(h->features[i].desc, desc ? desc : "", PSG_TEXT_LEN);
	return i;
}

int psg_header_add_evtype(psg_header *h, const char *name, int nfields,
			  const char *const *fields, const char *const *units)
{
	if (!name || !*name || nfields < 0 || nfields > PSG_MAX_FIELDS ||
	    psg_header_find_evtype(h, name) >= 0)
		return PSG_ERR_ARG;
	for (int k = 0; k < nfields; k++) {   /* fields become columns */
		if (!fields[k] || !*fields[k])
			return PSG_ERR_ARG;
		for (int j = 0; j < k; j++)
			if (!strcmp(fields[j], fields[k]))
				return PSG_ERR_ARG;
	}
	int i = grow((void **)&h->evtypes, &h->nevtypes, sizeof *h->evtypes);
	if (i < 0)
		return i;
	psg_evtype *t = &h->evtypes[i];
	psg__strlcpy(t->name, name, PSG_LABEL_LEN);
	t->nfields = nfields;
	for (int k = 0; k < nfields; k++) {
		psg__strlcpy(t->field[k], fields[k], PSG_LABEL_LEN);
		psg__strlcpy(t->unit[k], units && units[k] ? units[k] : "",
			     PSG_UNIT_LEN);
	}
	return i;
}

int psg_header_add_history(psg_header *h, int argc, char *const *argv)
{
	size_t len = 1;
	char *s, **p;
	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if (!(s = malloc(len)))
		return PSG_ERR_NOMEM;
	s[0] = '\0';
	for (int i = 0; i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	p = realloc(h->history, (size_t)(h->nhistory + 1) * sizeof *p);
	if (!p) {
		free(s);
		return PSG_ERR_NOMEM;
	}
	h->history = p;
	h->history[h->nhistory] = s;
	return h->nhistory++;
}

int psg_header_find_channel(const psg_header *h, const char *label)
{
	for (int i = 0; i < h->nchannels; i++)
		if (!strcmp(h->channels[i].label, label))
			return i;
	return PSG_ERR_NOTFOUND;
}

int psg_header_find_feature(const psg_header *h, const char *name)
{
	for (int i = 0; i < h->nfeatures; i++)
		if (!strcmp(h->features[i].name, name))
			return i;
	return PSG_ERR_NOTFOUND;
}

int psg_header_find_evtype(const psg_header *h, const char *name)
{
	for (int i = 0; i < h->nevtypes; i++)
		if (!strcmp(h->evtypes[i].name, name))
			return i;
	return PSG_ERR_NOTFOUND;
}

int64_t psg_header_nepochs(const psg_header *h)
{
	if (h->duration < 0 || h->epoch_len <= 0 ||
	    h->duration <= h->epoch_origin)
		return 0;
	return (h->duration - h->epoch_origin) / h->epoch_len;
}

void psg_header_start_iso(const psg_header *h, char *buf, size_t n)
{
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%07lld", h->year,
		 h->month, h->day, h->hour, h->minute, h->second,
		 (long long)h->subsecond);
}

int64_t psg__days_from_civil(int y, int m, int d)
{
	/* Howard Hinnant's days_from_civil: exact for the proleptic
	   Gregorian calendar, no time zone involved. */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int psg__start_ok(const psg_header *h)
{
	return h->year >= PSG_MIN_YEAR && h->year <= PSG_MAX_YEAR &&
	       h->month >= 1 && h->month <= 12 && h->day >= 1 &&
	       h->day <= 31 && h->hour >= 0 && h->hour <= 23 &&
	       h->minute >= 0 && h->minute <= 59 && h->second >= 0 &&
	       h->second <= 60 && h->subsecond >= 0 &&
	       h->subsecond < PSG_TICKS_PER_SEC;
}

int64_t psg_header_start_ticks(const psg_header *h)
{
	/* Readers refuse dates outside these (limits.c); a header made by
	   hand may still hold anything, and the sums below must not wrap. */
	if (!psg__start_ok(h))
		return INT64_MIN;
	int64_t days = psg__days_from_civil(h->year, h->month, h->day);
	int64_t secs = days * 86400 + h->hour * 3600 + h->minute * 60 +
		       h->second;
	return secs * PSG_TICKS_PER_SEC + h->subsecond;
}

double psg_channel_rate(const psg_channel *c)
{
	return (double)c->spr * PSG_TICKS_PER_SEC / (double)c->period;
}

int64_t psg_sample_time(const psg_channel *c, int64_t t0, int64_t idx)
{
	/* idx * period / spr in 128-bit-safe form: split idx to avoid
	   overflow for week-long recordings at kHz rates. */
	int64_t q = idx / c->spr, r = idx % c->spr, a, b, t;
	/* Saturates rather than wraps: readers keep times within the
	   limits (limits.c), but callers may ask about any index. */
	if (__builtin_mul_overflow(q, c->period, &a) ||
	    __builtin_mul_overflow(r, c->period, &b) ||
	    __builtin_add_overflow(b, c->spr / 2, &b) ||
	    __builtin_add_overflow(t0, a, &t) ||
	    __builtin_add_overflow(t, b / c->spr, &t))
		return (double)t0 + (double)idx * (double)c->period /
		       (double)c->spr < 0 ? INT64_MIN : INT64_MAX;
	return t;
}

/* The slow path of psg_clock_time: the divisions once, then steps.  Where
   the split sum could overflow, the clock stays unset (k->c NULL) so every
   call comes here and gets psg_sample_time's saturated answer. */
int64_t psg_clock_seek(psg_clock *k, const psg_channel *c, int64_t t0,
		       int64_t idx)
{
	int64_t t = psg_sample_time(c, t0, idx), num;
	k->c = NULL, k->t0 = t0, k->idx = idx, k->t = t;
	if (c->spr < 1 || c->period < 1 || idx < 0)
		return t;
	k->r = idx % c->spr;
	if (__builtin_mul_overflow(idx / c->spr, c->period, &k->base) ||
	    __builtin_add_overflow(k->base, t0, &k->base) ||
	    __builtin_mul_overflow(c->spr, c->period, &num) ||
	    __builtin_add_overflow(num, c->spr, &num))
		return t;
	num = k->r * c->period + c->spr / 2;
	k->nq = num / c->spr, k->nr = num % c->spr;
	k->pq = c->period / c->spr, k->pr = c->period % c->spr;
	if (__builtin_add_overflow(k->base, k->nq, &num) || num != t)
		return t;   /* saturated near INT64_MAX: stays unset */
	k->c = c;
	return t;
}

void psg_clock_times(psg_clock *k, const psg_channel *c, int64_t t0,
		     int64_t idx, size_t n, int64_t *t)
{
	size_t j = 0;
	while (j < n) {
		t[j] = psg_clock_time(k, c, t0, idx + (int64_t)j);
		if (++j == n || k->c != c)
			continue;   /* done, or unset: each by the slow path */
		const int64_t spr = c->spr, period = c->period;
		const int64_t pq = k->pq, pr = k->pr;
		int64_t base = k->base, r = k->r, nq = k->nq, nr = k->nr, end;
		/* psg_clock_time's step, a record at a time: within one,
		   base + nq stays below base + period, so one check of that
		   sum stands for every sample's (and the loop tests no wrap). */
		while (j < n && !__builtin_add_overflow(base, period, &end)) {
			size_t m = (size_t)(spr - 1 - r);
			m = m < n - j ? m : n - j;
			for (size_t i = 0; i < m; i++) {
				nq += pq, nr += pr;
				if (nr >= spr)
					nr -= spr, nq++;
				t[j + i] = base + nq;
			}
			j += m, r += m;
			if (j == n)
				break;
			r = 0, nq = 0, nr = spr / 2;   /* the next record */
			base = end;
			t[j++] = base;
		}
		if (j < n) {   /* would overflow: psg_clock_seek saturates */
			k->c = NULL;
			continue;
		}
		k->base = base, k->r = r, k->nq = nq, k->nr = nr;
		k->idx = idx + (int64_t)n - 1, k->t = t[n - 1];
	}
}

int psg_header_add_role(psg_header *h, const char *stage, const char *role,
			int channel)
{
	if (channel < 0 || channel >= h->nchannels)
		return PSG_ERR_ARG;
	int i = grow((void **)&h->roles, &h->nroles, sizeof *h->roles);
	if (i < 0)
		return i;
	psg__strlcpy(h->roles[i].stage, stage, sizeof h->roles[i].stage);
	psg__strlcpy(h->roles[i].role, role, sizeof h->roles[i].role);
	h->roles[i].channel = channel;
	return i;
}
