/*
 * tal.c -- EDF+ text pieces: time-stamped annotation lists (TALs) and the
 * patient/recording identification subfields (EDF+ spec, sections 2.1.3
 * and 2.2.2; Kemp & Olivan 2003).
 *
 * A TAL is "+onset[\x15duration]\x14text\x14text\x14\0"; the first TAL of
 * the first annotation signal in each data record is the record's start
 * time (empty text).  That is what puts EDF+D records on their real
 * timeline.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int psg__parse_seconds(const char *s, size_t n, int64_t *ticks)
{
	int neg = 0, digits = 0;
	int64_t whole = 0, frac = 0, scale = PSG_TICKS_PER_SEC;
	size_t i = 0;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		neg = s[i++] == '-';
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
		if (whole > INT64_MAX / 100 / PSG_TICKS_PER_SEC)
			return -1;
		whole = whole * 10 + (s[i] - '0');
	}
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++)
			if (scale >= 10) {
				scale /= 10;
				frac += (s[i] - '0') * scale;
			}
	if (i != n || !digits)
		return -1;
	*ticks = (whole * PSG_TICKS_PER_SEC + frac) * (neg ? -1 : 1);
	return 0;
}

/* One TAL at p (without its final NUL); returns 0 or -1. */
static int parse_one(const char *p, size_t n, int *is_first, int64_t *ronset,
		     psg__tal_fn fn, void *ctx)
{
	const char *e20 = memchr(p, 0x14, n), *e21;
	int64_t onset, dur = -1;
	if (!e20 || (p[0] != '+' && p[0] != '-'))
		return -1;
	e21 = memchr(p, 0x15, (size_t)(e20 - p));
	if (psg__parse_seconds(p, (size_t)((e21 ? e21 : e20) - p), &onset))
		return -1;
	if (e21 && psg__parse_seconds(e21 + 1, (size_t)(e20 - e21 - 1), &dur))
		return -1;
	const char *t = e20 + 1, *end = p + n;
	int ntext = 0;
	while (t < end) {
		const char *z = memchr(t, 0x14, (size_t)(end - t));
		if (!z)
			z = end;
		size_t len = (size_t)(z - t);
		if (len && fn) {
			char *txt = malloc(len + 1);
			if (!txt)
				return -1;
			memcpy(txt, t, len);
			txt[len] = '\0';
			fn(ctx, onset, dur, txt);
			free(txt);
		}
		ntext += len > 0;
		t = z + 1;
	}
	if (*is_first) {
		*is_first = 0;
		*ronset = onset;
	}
	(void)ntext;
	return 0;
}

int psg__parse_tal(const unsigned char *buf, size_t n, int first_signal,
		   int64_t *record_onset, psg__tal_fn fn, void *ctx)
{
	const char *p = (const char *)buf, *end = p + n;
	int is_first = first_signal;
	int64_t dummy;
	if (record_onset && first_signal)
		*record_onset = INT64_MIN;
	while (p < end && *p) {
		const char *z = memchr(p, 0, (size_t)(end - p));
		if (!z)
			z = end;
		if (parse_one(p, (size_t)(z - p), &is_first,
			      record_onset ? record_onset : &dummy, fn, ctx))
			return -1;
		p = z + 1;
		/* TALs are separated by one NUL; padding is more NULs. */
	}
	return 0;
}

/* Copies the k-th space-separated subfield of src ("X" means unknown). */
static void subfield(const char *src, int k, char *dst, size_t n)
{
	const char *p = src;
	dst[0] = '\0';
	for (int i = 0; i < k && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || !*p)
		return;
	size_t len = strcspn(p, " ");
	if (len == 1 && p[0] == 'X')
		return;
	if (len >= n)
		len = n - 1;
	memcpy(dst, p, len);
	dst[len] = '\0';
	for (char *q = dst; *q; q++)
		if (*q == '_')
			*q = ' ';   /* EDF+ writes spaces in names as '_' */
}

/* Everything after the k-th subfield (the "additional" free text). */
static void rest(const char *src, int k, char *dst, size_t n)
{
	const char *p = src;
	for (int i = 0; i < k && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	psg__strlcpy(dst, p ? p : "", n);
}

void psg__parse_edfplus_ids(psg_header *h)
{
	/* patient: code sex birthdate name [additional...]
	   recording: "Startdate" date admincode technician equipment [...] */
	subfield(h->patient, 0, h->patient_code, sizeof h->patient_code);
	subfield(h->patient, 1, h->sex, sizeof h->sex);
	subfield(h->patient, 2, h->birthdate, sizeof h->birthdate);
	subfield(h->patient, 3, h->patient_name, sizeof h->patient_name);
	rest(h->patient, 4, h->patient_additional,
	     sizeof h->patient_additional);
	if (strncmp(h->recording, "Startdate ", 10))
		return;
	subfield(h->recording, 2, h->admincode, sizeof h->admincode);
	subfield(h->recording, 3, h->technician, sizeof h->technician);
	subfield(h->recording, 4, h->equipment, sizeof h->equipment);
	rest(h->recording, 5, h->recording_additional,
	     sizeof h->recording_additional);
}
