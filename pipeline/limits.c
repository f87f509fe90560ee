/*
 * limits.c -- what a header or record may say, checked where it enters:
 * once for every reader (stream, edflib, native EDF), so that no stage has
 * to (docs/stream.md, "Limits").
 *
 * A few bytes can claim a recording of centuries, an epoch of one tick or
 * a sample at 2^62 ticks; every stage that sizes a table, a loop or a
 * buffer from such a value then writes gigabytes or overflows.  So times
 * are bounded by the longest recording (30 days; PSG_MAX_DAYS raises it),
 * epochs last at least 1 s, rates are at most 1 MHz, numbers that scale
 * samples are finite, and each channel's blocks move forward in time.
 * Values inside the limits keep their exact 64-bit meaning.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SEC ((double)PSG_TICKS_PER_SEC)

int64_t psg_max_duration(void)
{
	const char *e = getenv("PSG_MAX_DAYS");
	char *end;
	double d = e ? strtod(e, &end) : 0;
	if (!e || end == e || *end || !(d >= 1 && d <= PSG_MAX_DAYS_CEILING))
		d = PSG_MAX_DAYS_DEFAULT;
	return (int64_t)(d * 86400) * PSG_TICKS_PER_SEC;
}

static int limit(psg_reader *r, const char *what, double v, double max,
		 const char *unit)
{
	return psg__fail(r, PSG_ERR_LIMIT, "%s %.10g%s is beyond the limit "
			 "of %.10g%s (docs/stream.md, Limits)", what, v, unit,
			 max, unit);
}

static int too_long(psg_reader *r, int64_t duration, int64_t max)
{
	return psg__fail(r, PSG_ERR_LIMIT, "a recording of %.6g days is "
			 "beyond the limit of %g days (PSG_MAX_DAYS raises it; "
			 "docs/stream.md, Limits)", duration / SEC / 86400,
			 max / SEC / 86400);
}

static int check_date(psg_reader *r, const psg_header *h)
{
	if (!psg__start_ok(h))
		return psg__fail(r, PSG_ERR_LIMIT, "start date-time %d-%d-%d "
				 "%d:%d:%d is out of range (years %d to %d)",
				 h->year, h->month, h->day, h->hour, h->minute,
				 h->second, PSG_MIN_YEAR, PSG_MAX_YEAR);
	return PSG_OK;
}

static int check_channel(psg_reader *r, const psg_channel *c, int64_t max)
{
	if (c->spr < 1 || c->period < 1)
		return psg__fail(r, PSG_ERR_FORMAT, "channel '%s': %lld samples "
				 "per %lld ticks is no rate", c->label,
				 (long long)c->spr, (long long)c->period);
	if (c->period > max)
		return limit(r, "a sample period of", c->period / SEC,
			     max / SEC, " s");
	/* psg_sample_time multiplies a remainder (< spr) by the period. */
	if (c->spr > INT64_MAX / c->period ||
	    (double)c->spr * SEC / (double)c->period > PSG_MAX_RATE)
		return limit(r, "a rate of", (double)c->spr * SEC /
			     (double)c->period, PSG_MAX_RATE, " Hz");
	if (!isfinite(c->phys_min) || !isfinite(c->phys_max))
		return psg__fail(r, PSG_ERR_FORMAT, "channel '%s': physical "
				 "range %g..%g is not a pair of numbers",
				 c->label, c->phys_min, c->phys_max);
	return PSG_OK;
}

int psg__check_header(psg_reader *r)
{
	const psg_header *h = r->h;
	int64_t max = psg_max_duration();
	int st = check_date(r, h);
	if (st)
		return st;
	if (h->duration < -1)
		return psg__fail(r, PSG_ERR_FORMAT, "negative duration");
	if (h->duration > max)
		return too_long(r, h->duration, max);
	if (h->epoch_len < PSG_MIN_EPOCH || h->epoch_len > max)
		return psg__fail(r, PSG_ERR_LIMIT, "an epoch of %.7g s is "
				 "outside the limits of %g s to %g days",
				 h->epoch_len / SEC, PSG_MIN_EPOCH / SEC,
				 max / SEC / 86400);
	if (h->epoch_origin < 0 || h->epoch_origin > max)
		return psg__fail(r, PSG_ERR_LIMIT, "epoch origin %.7g s is "
				 "outside the recording's limits",
				 h->epoch_origin / SEC);
	for (int i = 0; i < h->nchannels && !st; i++)
		st = check_channel(r, &h->channels[i], max);
	if (st)
		return st;
	free(r->next_time);
	r->next_time = malloc(((size_t)h->nchannels + 1) * sizeof *r->next_time);
	if (!r->next_time)
		return psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	for (int i = 0; i < h->nchannels; i++)
		r->next_time[i] = 0;
	r->max_duration = max;
	return PSG_OK;
}

/* A block lies within [0, max] and starts where its channel's previous
   block ended or later: a block that goes back or repeats samples would
   give overlapping segments downstream. */
static int check_block(psg_reader *r, const psg_block *b)
{
	const psg_channel *c = &r->h->channels[b->channel];
	int64_t max = r->max_duration;
	if (b->t0 < 0 || b->t0 > max || b->offset < 0 || b->n < 0 ||
	    b->offset / c->spr > (max - b->t0) / c->period)
		return psg__fail(r, PSG_ERR_LIMIT, "channel '%s': a block at "
				 "%.7g s + sample %lld lies outside 0 to %g "
				 "days", c->label, b->t0 / SEC,
				 (long long)b->offset, max / SEC / 86400);
	int64_t start = psg_sample_time(c, b->t0, b->offset);
	int64_t end = psg_sample_time(c, b->t0, b->offset + b->n);
	if (end > max)
		return limit(r, "a block ending at", end / SEC, max / SEC, " s");
	if (start < r->next_time[b->channel])
		return psg__fail(r, PSG_ERR_FORMAT, "channel '%s': a block at "
				 "%.7f s goes back before the end of the "
				 "previous one (%.7f s)", c->label, start / SEC,
				 r->next_time[b->channel] / SEC);
	r->next_time[b->channel] = end;
	return PSG_OK;
}

int psg__check_record(psg_reader *r, const psg_record *rec)
{
	int64_t max = r->max_duration;
	switch (rec->kind) {
	case PSG_REC_DATA:
		return check_block(r, &rec->block);
	case PSG_REC_EVENT:
		if (rec->event.onset < -max || rec->event.onset > max)
			return limit(r, "an event at", rec->event.onset / SEC,
				     max / SEC, " s");
		if (rec->event.duration < -1 || rec->event.duration > max)
			return limit(r, "an event lasting",
				     rec->event.duration / SEC, max / SEC, " s");
		break;
	case PSG_REC_EPOCH:
		if (rec->epoch.epoch > max / r->h->epoch_len)
			return limit(r, "epoch", (double)rec->epoch.epoch,
				     (double)(max / r->h->epoch_len), "");
		break;
	case PSG_REC_ARRAY:
		if (rec->array.row > max / PSG_MIN_EPOCH)
			return limit(r, "array row", (double)rec->array.row,
				     (double)(max / PSG_MIN_EPOCH), "");
		break;
	case PSG_REC_END:
		if (rec->end.duration < 0 || rec->end.duration > max)
			return too_long(r, rec->end.duration, max);
		break;
	}
	return PSG_OK;
}
