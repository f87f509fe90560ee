/*
 * edf_write.c -- psgpipe's EDF+/BDF+ writer (psg.h, "writing EDF+/BDF+
 * files"), after the EDF+ specification (Kemp & Olivan 2003) and BDF+.
 * edflib's writer cannot write EDF+D and wants all annotations before
 * closing; this one streams: one data record and the annotation queue in
 * memory, 1 MiB writes to a temporary file beside the target, renamed
 * into place by _finish.  Files must read back through edf_native.c and
 * edflib (EDF+C/BDF+C), so the header follows edflib's checks too.
 *
 * Decisions a reader of the files may want to know:
 *
 *   - Header text must be printable ASCII.  UTF-8 letters lose their
 *     accents ('Impédance' -> 'Impedance'), a few symbols get their usual
 *     EDF spelling ('°C' -> 'degC', 'µV' -> 'uV', 'Ω' -> 'Ohm'), control
 *     characters become spaces, anything else one '?' per character.
 *     Fields are cut to their width (label 16, unit 8, transducer and
 *     prefilter 80).  Annotation text stays UTF-8 (EDF+ allows it); only
 *     control characters (0x14/0x15 delimit TALs) become spaces and
 *     invalid UTF-8 bytes '?'.
 *   - Patient field "code sex birthdate name [additional]" and recording
 *     field "Startdate dd-MMM-yyyy admincode technician equipment
 *     [additional]" from the header's subfields, spaces as '_', "X" when
 *     empty; each subfield is shortened so that all fit in 80 characters
 *     and edflib's checks pass.  When every subfield is empty the raw
 *     field is used: as it is if it already has the EDF+ shape, else as
 *     the free text after "X X X X" (so a plain EDF's "John Smith"
 *     survives and the field stays valid EDF+).
 *   - Physical minimum and maximum are written with as many decimals as
 *     fit in 8 characters, rounded outward (minimum down, maximum up), so
 *     no value inside the channel's range is clamped; the gain comes from
 *     the numbers as written, which is what readers use.  The digital
 *     range is always the full 16 or 24 bits.  Samples are rounded to the
 *     nearest digital value and clamped to the range; NaN is written as
 *     physical 0.
 *   - Times are exact decimals of ticks ("+1.2345678"), never floating
 *     point.  Every record's first TAL is its onset on the header's
 *     timeline: the sub-second start plus the record's onset.
 *   - Annotations go, in the order added, into the next data records
 *     written, as many as fit in each record's annot_bytes; one that does
 *     not fit waits for the next record.  So add them before writing the
 *     records that cover them: what is still queued at _finish is an
 *     error (PSG_ERR_LIMIT), since more records would add data.  One
 *     annotation's TAL must fit beside the longest record time, in
 *     annot_bytes - 20 bytes, else psg_edf_add_annotation says
 *     PSG_ERR_LIMIT; empty texts are refused (readers drop them).
 *   - A file without data records is refused at _finish (edflib cannot
 *     read one); an annotation file is the annotations_only kind.
 *   - EDF+C starts at the header's start time (first onset 0: edflib
 *     refuses anything else) and EDF+D at a whole number of seconds after
 *     it, because readers take the sub-second start from the fraction of
 *     the first record's onset.
 *   - An annotations-only file (a hypnogram) has no signals, record
 *     duration 0 and one record whose annotation signal is sized at
 *     _finish to hold everything queued; the file is written then.
 *     The header's channels are ignored.
 *   - BDF+: version "\xffBIOSEMI", reserved field "BDF+C"/"BDF+D" (where
 *     Biosemi's plain BDF has "24BIT": edflib and the BDF+ description
 *     look for "BDF+"), annotation signal "BDF Annotations".
 *   - Limits: 8-character fields (99999999 records, samples per record,
 *     a record duration such as "0.000001"); records of at most 64 MiB.
 *     edflib reads no more than 640 signals and records of 10 MiB (EDF)
 *     or 15 MiB (BDF); the native reader has no such limits.
 *
 * psg_edf_writer_open returns NULL on failure; its message is then
 * available from psg_edf_writer_errmsg(NULL), per thread.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_RECORD ((size_t)PSG_MAX_RECORD)  /* bytes of one data record */
#define MAX_FIELD8 99999999            /* what 8 digits hold */
/* Longest time-keeping TAL up to 99999999 s: "+99999999.9999999\x14\x14\0";
   an annotation must fit in a record beside it. */
#define TK_MAX 20

typedef struct wsig {
	int64_t spr;              /* samples per record */
	double pmin, pmax;        /* physical range as written in the header */
} wsig;

typedef struct wtal {
	char *s;                  /* a whole TAL, NUL included */
	size_t len;
} wtal;

struct psg_edf_writer {
	int fd;                   /* -1 once closed */
	char *path, *tmp;         /* tmp: NULL once renamed to path */
	unsigned char *out;
	size_t used;
	int bdf, discont, annot_only;
	int ns;                   /* data signals (the annotation one aside) */
	wsig *sig;
	int32_t dmin, dmax;
	int64_t rec_ticks, sub;
	size_t annot_bytes;       /* per record; annot_only: set by _finish */
	size_t recbytes;
	unsigned char *rec;
	unsigned char main[256];  /* the main header */
	int64_t nrec;             /* records written */
	int64_t next;             /* end of the last record */
	wtal *q;                  /* annotations waiting for a record */
	size_t qhead, qn, qcap;
	int failed;               /* sticky: the file is unusable */
	int finished;
	char err[512];
};

static _Thread_local char open_err[512];

static int fail(psg_edf_writer *w, int st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(psg_edf_writer *w, int st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof w->err, fmt, ap);
	va_end(ap);
	return st;
}

/* An I/O error spoils the file for good: later calls repeat it. */
static int io_fail(psg_edf_writer *w, const char *what)
{
	int e = errno;
	fail(w, PSG_ERR_IO, "%s: %s%s%s", w->path, what, *what ? ": " : "",
	     strerror(e));
	return w->failed = PSG_ERR_IO;
}

/* ---- text ---- */

/* U+00A0..U+017F without their accents; '?' marks the multi-letter ones
   of wide[] and symbols with no ASCII look-alike. */
static const char latin[] =
	" !c???|? ?a<?-? ??23 ??. 1o>????"
	"AAAAAA?CEEEEIIIIDNOOOOOxOUUUUY??"
	"aaaaaa?ceeeeiiiidnooooo/ouuuuy?y"
	"AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGg"
	"GgGgHhHhIiIiIiIiIi??JjKkkLlLlLlL"
	"lLlNnNnNnnNnOoOoOo??RrRrRrSsSsSs"
	"SsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";

static const struct { uint32_t cp; const char *s; } wide[] = {
	{0xa9, "(c)"}, {0xae, "(R)"}, {0xb0, "deg"}, {0xb1, "+-"},
	{0xb5, "u"}, {0xbc, "1/4"}, {0xbd, "1/2"}, {0xbe, "3/4"},
	{0xc6, "AE"}, {0xde, "TH"}, {0xdf, "ss"}, {0xe6, "ae"},
	{0xfe, "th"}, {0x132, "IJ"}, {0x133, "ij"}, {0x152, "OE"},
	{0x153, "oe"}, {0x3a9, "Ohm"}, {0x3bc, "u"}, {0x2013, "-"},
	{0x2014, "-"}, {0x2018, "'"}, {0x2019, "'"}, {0x201c, "\""},
	{0x201d, "\""}, {0x2026, "..."}, {0x2103, "degC"}, {0x2126, "Ohm"},
	{0x2212, "-"}};

/* Decodes one UTF-8 character at s: its length (1 for an invalid byte,
   with *cp = 0xfffd). */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
	int k = s[0] < 0x80 ? 0 : (s[0] & 0xe0) == 0xc0 ? 1 :
		(s[0] & 0xf0) == 0xe0 ? 2 : (s[0] & 0xf8) == 0xf0 ? 3 : -1;
	uint32_t v = k == 0 ? s[0] : k == 1 ? s[0] & 0x1fu :
		     k == 2 ? s[0] & 0x0fu : s[0] & 0x07u;
	if (k < 0 || (k == 1 && s[0] < 0xc2)) {
		*cp = 0xfffd;
		return 1;
	}
	for (int j = 1; j <= k; j++) {
		if ((s[j] & 0xc0) != 0x80) {
			*cp = 0xfffd;
			return 1;
		}
		v = v << 6 | (s[j] & 0x3fu);
	}
	*cp = v;
	return (size_t)k + 1;
}

static const char *ascii_of(uint32_t cp, char one[2])
{
	if (cp < 0x20 || cp == 0x7f)
		return " ";
	for (size_t i = 0; i < sizeof wide / sizeof *wide; i++)
		if (wide[i].cp == cp)
			return wide[i].s;
	one[0] = cp < 0x80 ? (char)cp : cp >= 0xa0 && cp < 0x180 ?
		 latin[cp - 0xa0] : '?';
	one[1] = '\0';
	return one;
}

/* UTF-8 src as printable ASCII into dst (cap bytes with the NUL),
   leading and trailing blanks trimmed. */
static void to_ascii(char *dst, size_t cap, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0;
	while (*s && o + 1 < cap) {
		uint32_t cp;
		char one[2];
		s += utf8_next(s, &cp);
		const char *a = ascii_of(cp, one);
		size_t n = strlen(a);
		if (o + n >= cap)
			break;
		memcpy(dst + o, a, n);
		o += n;
	}
	while (o && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
	size_t lead = strspn(dst, " ");
	memmove(dst, dst + lead, o - lead + 1);
}

/* Annotation text: UTF-8 kept; controls (0x14, 0x15 delimit TALs) become
   spaces, invalid bytes '?'.  dst has room for strlen(src) + 1. */
static void tal_text(char *dst, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	while (*s) {
		uint32_t cp;
		size_t n = utf8_next(s, &cp);
		if (cp == 0xfffd && n == 1)
			*dst++ = '?';
		else if (cp < 0x20)
			*dst++ = ' ';
		else
			memcpy(dst, s, n), dst += n;
		s += n;
	}
	*dst = '\0';
}

/* A space-padded header field of `width` bytes. */
static void field(unsigned char *p, size_t width, const char *s)
{
	size_t n = strlen(s);
	memset(p, ' ', width);
	memcpy(p, s, n < width ? n : width);
}

/* ---- numbers ---- */

/* Exact decimal seconds of t ticks ("+1.2345678", "-0.5", "30"): what a
   reader parses is what was meant, with no floating point between. */
static int fmt_seconds(char *buf, size_t n, int64_t t, int plus)
{
	uint64_t a = t < 0 ? 0 - (uint64_t)t : (uint64_t)t;
	unsigned long long whole = a / PSG_TICKS_PER_SEC;
	unsigned long long frac = a % PSG_TICKS_PER_SEC;
	char f[16] = "";
	if (frac) {
		int k = snprintf(f, sizeof f, ".%07llu", frac);
		while (k > 0 && f[k - 1] == '0')
			f[--k] = '\0';
	}
	return snprintf(buf, n, "%s%llu%s", t < 0 ? "-" : plus ? "+" : "",
			whole, f);
}

/* v in at most 8 characters, as many decimals as fit, rounded down (or
   up) so that the value written never narrows the range.  The decimal is
   built from an integer k / 10^d, which is also what a reader's strtod
   gives back: *back receives it.  -1 if v cannot be written. */
static int fmt_phys(char out[9], double v, int up, double *back)
{
	static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7};
	if (!isfinite(v))
		return -1;
	for (int d = 7; d >= 0; d--) {
		double s = v * p10[d];
		if (fabs(s) > 9e15)
			continue;
		long long k = (long long)(up ? ceil(s) : floor(s));
		/* The product may be off by an ulp: correct against v. */
		while (!up && (double)k / p10[d] > v)
			k--;
		while (!up && (double)(k + 1) / p10[d] <= v)
			k++;
		while (up && (double)k / p10[d] < v)
			k++;
		while (up && (double)(k - 1) / p10[d] >= v)
			k--;
		unsigned long long a = k < 0 ? 0ULL - (unsigned long long)k :
					       (unsigned long long)k;
		unsigned long long unit = (unsigned long long)p10[d];
		char f[16] = "", buf[48];
		if (d) {
			int n = snprintf(f, sizeof f, ".%0*llu", d, a % unit);
			while (n > 0 && (f[n - 1] == '0' || f[n - 1] == '.'))
				f[--n] = '\0';
		}
		int len = snprintf(buf, sizeof buf, "%s%llu%s", k < 0 ? "-" : "",
				   a / unit, f);
		if (len <= 8) {
			memcpy(out, buf, (size_t)len + 1);
			*back = (double)k / p10[d];
			return 0;
		}
	}
	return -1;
}

/* ---- the patient and recording fields ---- */

/* One EDF+ subfield: ASCII, spaces as '_', "X" when empty. */
static void subfield(char *dst, size_t cap, const char *src)
{
	to_ascii(dst, cap, src);
	for (char *p = dst; *p; p++)
		if (*p == ' ')
			*p = '_';
	if (!*dst)
		psg__strlcpy(dst, "X", cap);
}

static const char *const month_name[] = {"JAN", "FEB", "MAR", "APR", "MAY",
	"JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};

static int month_of(const char *s)
{
	for (int i = 0; i < 12; i++)
		if ((s[0] & ~0x20) == month_name[i][0] &&
		    (s[1] & ~0x20) == month_name[i][1] &&
		    (s[2] & ~0x20) == month_name[i][2])
			return i + 1;
	return 0;
}

static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* A birthdate as EDF+ wants it, "02-AUG-1951", from that form in any
   case, edflib's "02 aug 1951" or ISO "1951-08-02"; "X" otherwise. */
static void birthdate(char out[16], const char *s)
{
	int d = -1, m = 0, y = -1;
	size_t n = strlen(s);
	if (n == 11 && (s[2] == '-' || s[2] == ' ') && s[6] == s[2]) {
		d = digits(s, 2), m = month_of(s + 3), y = digits(s + 7, 4);
	} else if (n == 10 && s[4] == '-' && s[7] == '-') {
		y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
	}
	if (d < 1 || d > 31 || m < 1 || m > 12 || y < 0)
		snprintf(out, 16, "X");
	else
		snprintf(out, 16, "%02d-%s-%04d", d, month_name[m - 1], y);
}

/* Joins n subfields with single spaces into an 80-character EDF+ field.
   Those in `var` (a bit mask) may be shortened, to no less than one
   character, so that everything after them still fits; the free text
   `extra` goes last if room remains. */
static void join_ids(char out[81], char (*sub)[PSG_TEXT_LEN], int n,
		     unsigned var, const char *extra)
{
	size_t used = 0;
	for (int i = 0; i < n; i++) {
		size_t reserve = 0, len = strlen(sub[i]);
		for (int j = i + 1; j < n; j++)
			reserve += 1 + (var >> j & 1 ? 1 : strlen(sub[j]));
		size_t room = 80 - used - (i > 0) - reserve;
		if (len > room)
			len = room;
		if (i > 0)
			out[used++] = ' ';
		memcpy(out + used, sub[i], len);
		used += len;
	}
	size_t k = strlen(extra);
	if (k && used + 1 < 80) {
		out[used++] = ' ';
		if (k > 80 - used)
			k = 80 - used;
		memcpy(out + used, extra, k);
		used += k;
	}
	out[used] = '\0';
}

/* Splits an ASCII field at single spaces into up to n tokens; the rest
   (after the n-th) into *rest.  Returns the number of tokens, or -1 on
   an empty token (a double space: not EDF+ shaped). */
static int tokens(char *s, char **tok, int n, char **rest)
{
	int k = 0;
	*rest = s + strlen(s);
	while (k < n && *s) {
		char *sp = strchr(s, ' ');
		if (sp == s)
			return -1;
		tok[k++] = s;
		if (!sp)
			return k;
		*sp = '\0';
		s = sp + 1;
	}
	*rest = s;
	return k;
}

static int is_edf_date(const char *s)
{
	return strlen(s) == 11 && s[2] == '-' && s[6] == '-' &&
	       digits(s, 2) >= 1 && digits(s, 2) <= 31 && month_of(s + 3) &&
	       !strncmp(s + 3, month_name[month_of(s + 3) - 1], 3) &&
	       digits(s + 7, 4) >= 0;
}

static void patient_field(char out[81], const psg_header *h)
{
	char sub[4][PSG_TEXT_LEN], raw[PSG_TEXT_LEN], *tok[4], *rest;
	const char *extra = h->patient_additional;
	const char *src[4] = {h->patient_code, h->sex, h->birthdate,
		h->patient_name};
	char sx = h->sex[0] & ~0x20;
	if (!h->patient_code[0] && !h->sex[0] && !h->birthdate[0] &&
	    !h->patient_name[0] && !h->patient_additional[0]) {
		/* Only the raw field: keep it when it has the EDF+ shape. */
		to_ascii(raw, sizeof raw, h->patient);
		int nt = tokens(raw, tok, 4, &rest);
		int ok = nt == 4 && strlen(tok[1]) == 1 &&
			 strchr("MFX", tok[1][0]) &&
			 (!strcmp(tok[2], "X") || is_edf_date(tok[2]));
		for (int i = 0; i < 4; i++)
			src[i] = ok ? tok[i] : "";
		sx = ok ? tok[1][0] : 'X';
		extra = rest;
		if (!ok)   /* the whole field is free text (tokens() cut it) */
			to_ascii(raw, sizeof raw, h->patient), extra = raw;
	}
	subfield(sub[0], 65, src[0]);   /* edflib: code <= 64 chars */
	snprintf(sub[1], sizeof sub[1], "%c", sx == 'M' || sx == 'F' ? sx : 'X');
	birthdate(sub[2], src[2]);
	subfield(sub[3], sizeof sub[3], src[3]);
	char add[PSG_TEXT_LEN];
	to_ascii(add, sizeof add, extra);
	join_ids(out, sub, 4, 1u << 0 | 1u << 3, add);
}

static void recording_field(char out[81], const psg_header *h)
{
	char sub[5][PSG_TEXT_LEN], raw[PSG_TEXT_LEN], *tok[5], *rest;
	const char *extra = h->recording_additional;
	const char *src[3] = {h->admincode, h->technician, h->equipment};
	if (!h->admincode[0] && !h->technician[0] && !h->equipment[0] &&
	    !h->recording_additional[0]) {
		to_ascii(raw, sizeof raw, h->recording);
		int nt = tokens(raw, tok, 5, &rest);
		int ok = nt == 5 && !strcmp(tok[0], "Startdate");
		for (int i = 0; i < 3; i++)
			src[i] = ok ? tok[i + 2] : "";
		extra = rest;
		if (!ok)
			to_ascii(raw, sizeof raw, h->recording), extra = raw;
	}
	snprintf(sub[0], sizeof sub[0], "Startdate");
	snprintf(sub[1], sizeof sub[1], "%02d-%s-%04d", h->day,
		 month_name[h->month - 1], h->year);
	for (int i = 0; i < 3; i++)
		subfield(sub[i + 2], sizeof sub[i + 2], src[i]);
	char add[PSG_TEXT_LEN];
	to_ascii(add, sizeof add, extra);
	join_ids(out, sub, 5, 7u << 2, add);
}

/* ---- headers ---- */

static void main_header(psg_edf_writer *w, const psg_header *h,
			const char *recdur)
{
	unsigned char *m = w->main;
	char buf[96];
	int nsig = w->ns + 1;
	if (w->bdf) {
		field(m, 8, "");
		m[0] = 0xff;
		memcpy(m + 1, "BIOSEMI", 7);
	} else {
		field(m, 8, "0");
	}
	patient_field(buf, h);
	field(m + 8, 80, buf);
	recording_field(buf, h);
	field(m + 88, 80, buf);
	snprintf(buf, sizeof buf, "%02d.%02d.%02d", h->day, h->month,
		 h->year % 100);
	field(m + 168, 8, buf);
	snprintf(buf, sizeof buf, "%02d.%02d.%02d", h->hour, h->minute,
		 h->second);
	field(m + 176, 8, buf);
	snprintf(buf, sizeof buf, "%d", 256 * (nsig + 1));
	field(m + 184, 8, buf);
	/* BDF+ says so with "BDF+C" where Biosemi's BDF has "24BIT". */
	snprintf(buf, sizeof buf, "%s+%c", w->bdf ? "BDF" : "EDF",
		 w->discont ? 'D' : 'C');
	field(m + 192, 44, buf);
	field(m + 236, 8, w->annot_only ? "1" : "-1");   /* patched later */
	field(m + 244, 8, recdur);
	snprintf(buf, sizeof buf, "%d", nsig);
	field(m + 252, 4, buf);
}

/* Field k (0-based among the ten: label, transducer, unit, physical
   min and max, digital min and max, prefilter, samples, reserved) of
   signal i in the signal headers, which group each field of all signals. */
static void put_sfield(unsigned char *sh, int nsig, int i, int k,
		       const char *s)
{
	static const size_t width[] = {16, 80, 8, 8, 8, 8, 8, 80, 8, 32};
	size_t off = 0;
	for (int j = 0; j < k; j++)
		off += width[j] * (size_t)nsig;
	field(sh + off + width[k] * (size_t)i, width[k], s);
}

/* The annotation signal, last: blank text, physical -1..1 and the full
   digital range, as edflib requires. */
static void annot_sig_header(psg_edf_writer *w, unsigned char *sh)
{
	int nsig = w->ns + 1, i = w->ns;
	char buf[32];
	put_sfield(sh, nsig, i, 0, w->bdf ? "BDF Annotations" :
		   "EDF Annotations");
	put_sfield(sh, nsig, i, 1, "");
	put_sfield(sh, nsig, i, 2, "");
	put_sfield(sh, nsig, i, 3, "-1");
	put_sfield(sh, nsig, i, 4, "1");
	snprintf(buf, sizeof buf, "%ld", (long)w->dmin);
	put_sfield(sh, nsig, i, 5, buf);
	snprintf(buf, sizeof buf, "%ld", (long)w->dmax);
	put_sfield(sh, nsig, i, 6, buf);
	put_sfield(sh, nsig, i, 7, "");
	snprintf(buf, sizeof buf, "%zu", w->annot_bytes / (w->bdf ? 3 : 2));
	put_sfield(sh, nsig, i, 8, buf);
	put_sfield(sh, nsig, i, 9, "");
}

/* One data signal's header from channel c; checks its rate and range. */
static int data_sig_header(psg_edf_writer *w, unsigned char *sh, int i,
			   const psg_channel *c)
{
	int nsig = w->ns + 1;
	char buf[PSG_TEXT_LEN], lo[9], hi[9];
	wsig *g = &w->sig[i];
	to_ascii(buf, 17, c->label);
	if (!strcmp(buf, "EDF Annotations") || !strcmp(buf, "BDF Annotations"))
		return fail(w, PSG_ERR_ARG, "channel %d is labelled '%s', "
			    "which EDF+ reserves", i, buf);
	put_sfield(sh, nsig, i, 0, buf);
	to_ascii(buf, 81, c->transducer);
	put_sfield(sh, nsig, i, 1, buf);
	to_ascii(buf, 9, c->unit);
	put_sfield(sh, nsig, i, 2, buf);
	if (c->spr <= 0 || c->period <= 0 ||
	    c->spr > INT64_MAX / w->rec_ticks ||
	    c->spr * w->rec_ticks % c->period)
		return fail(w, PSG_ERR_ARG, "channel '%s': %g Hz does not give "
			    "a whole number of samples per %g-s data record",
			    c->label, c->period > 0 ? psg_channel_rate(c) : 0.0,
			    (double)w->rec_ticks / PSG_TICKS_PER_SEC);
	g->spr = c->spr * w->rec_ticks / c->period;
	if (g->spr > MAX_FIELD8)
		return fail(w, PSG_ERR_LIMIT, "channel '%s': %lld samples per "
			    "record do not fit EDF's 8 digits", c->label,
			    (long long)g->spr);
	double a = c->phys_min < c->phys_max ? c->phys_min : c->phys_max;
	double b = c->phys_min < c->phys_max ? c->phys_max : c->phys_min;
	if (!(a < b) || fmt_phys(lo, a, 0, &a) || fmt_phys(hi, b, 1, &b))
		return fail(w, PSG_ERR_ARG, "channel '%s': physical range "
			    "%g..%g cannot be written in EDF's 8-character "
			    "fields", c->label, c->phys_min, c->phys_max);
	/* An inverted range (minimum above maximum) stays inverted. */
	int inv = c->phys_min > c->phys_max;
	g->pmin = inv ? b : a, g->pmax = inv ? a : b;
	put_sfield(sh, nsig, i, 3, inv ? hi : lo);
	put_sfield(sh, nsig, i, 4, inv ? lo : hi);
	snprintf(buf, sizeof buf, "%ld", (long)w->dmin);
	put_sfield(sh, nsig, i, 5, buf);
	snprintf(buf, sizeof buf, "%ld", (long)w->dmax);
	put_sfield(sh, nsig, i, 6, buf);
	to_ascii(buf, 81, c->prefilter);
	put_sfield(sh, nsig, i, 7, buf);
	snprintf(buf, sizeof buf, "%lld", (long long)g->spr);
	put_sfield(sh, nsig, i, 8, buf);
	put_sfield(sh, nsig, i, 9, "");
	return PSG_OK;
}

/* ---- output ---- */

static int flush_out(psg_edf_writer *w)
{
	if (psg__write_all(w->fd, w->out, w->used))
		return io_fail(w, "");
	w->used = 0;
	return PSG_OK;
}

static int emit(psg_edf_writer *w, const void *p, size_t n)
{
	if (psg__buffered(w->fd, w->out, &w->used, p, n))
		return io_fail(w, "");
	return PSG_OK;
}

/* The signal headers into *sh (to free), checking every channel. */
static int sig_headers(psg_edf_writer *w, const psg_header *h,
		       unsigned char **sh)
{
	int st = PSG_OK;
	if (!(*sh = malloc((size_t)(w->ns + 1) * 256)))
		return fail(w, PSG_ERR_NOMEM, "out of memory");
	for (int i = 0; i < w->ns && !st; i++)
		st = data_sig_header(w, *sh, i, &h->channels[i]);
	if (!st)
		annot_sig_header(w, *sh);
	return st;
}

/* ---- opening ---- */

static int check_opts(psg_edf_writer *w, const psg_header *h,
		      const psg_edf_opts *o)
{
	if (h->year < 1985 || h->year > 2084 || h->month < 1 ||
	    h->month > 12 || h->day < 1 || h->day > 31 || h->hour < 0 ||
	    h->hour > 23 || h->minute < 0 || h->minute > 59 ||
	    h->second < 0 || h->second > 59)
		return fail(w, PSG_ERR_ARG, "start %04d-%02d-%02d %02d:%02d:%02d "
			    "cannot be written in EDF (years 1985 to 2084)",
			    h->year, h->month, h->day, h->hour, h->minute,
			    h->second);
	if (h->subsecond < 0 || h->subsecond >= PSG_TICKS_PER_SEC)
		return fail(w, PSG_ERR_ARG, "sub-second start %lld ticks is "
			    "not within a second", (long long)h->subsecond);
	if (o->record_ticks < 0 || o->annot_bytes < 0)
		return fail(w, PSG_ERR_ARG, "negative record duration or "
			    "annotation size");
	if (!o->annotations_only && (h->nchannels < 0 ||
				     h->nchannels > 9998))
		return fail(w, PSG_ERR_LIMIT, "%d channels: EDF holds at "
			    "most 9998 besides its annotations",
			    h->nchannels);
	return PSG_OK;
}

/* Record duration, exact, in 8 characters ("1", "0.5", "30"). */
static int record_duration(psg_edf_writer *w, char out[16])
{
	if (w->annot_only) {
		snprintf(out, 16, "0");
		return PSG_OK;
	}
	char buf[32];
	if (fmt_seconds(buf, sizeof buf, w->rec_ticks, 0) > 8)
		return fail(w, PSG_ERR_ARG, "record duration %s s does not fit "
			    "EDF's 8 characters", buf);
	memcpy(out, buf, strlen(buf) + 1);
	return PSG_OK;
}

/* The annotation signal's bytes per record, in whole samples. */
static int annot_size(psg_edf_writer *w, size_t bytes)
{
	size_t width = w->bdf ? 3 : 2;
	bytes = (bytes + width - 1) / width * width;
	if (bytes / width > MAX_FIELD8)
		return fail(w, PSG_ERR_LIMIT, "annotation signal of %zu bytes: "
			    "too many samples for EDF's 8 digits", bytes);
	w->annot_bytes = bytes;
	return PSG_OK;
}

/* Record size and buffer, once the annotation size is known. */
static int sizes(psg_edf_writer *w)
{
	size_t width = w->bdf ? 3 : 2;
	w->recbytes = w->annot_bytes;
	for (int i = 0; i < w->ns; i++) {
		w->recbytes += (size_t)w->sig[i].spr * width;
		if (w->recbytes > MAX_RECORD)
			return fail(w, PSG_ERR_LIMIT, "a data record would "
				    "exceed %zu MiB", MAX_RECORD >> 20);
	}
	if (!(w->rec = malloc(w->recbytes)))
		return fail(w, PSG_ERR_NOMEM, "out of memory");
	return PSG_OK;
}

/* The temporary file beside path, with the permissions a new file of
   the user's would get (mkstemp's are 0600). */
/* The temporary file goes beside what the rename will replace: the
   target of a symbolic link; a device or FIFO is refused, since the
   record count is patched in at the end (psg_output_resolve). */
static int create_tmp(psg_edf_writer *w, const char *name)
{
	psg_outpath op;
	int st = psg_output_resolve(name, 0, &op, w->err, sizeof w->err);
	if (st)
		return st;
	const char *path = op.path;
	size_t n = strlen(path);
	if (!(w->path = strdup(path)) || !(w->tmp = malloc(n + 12)) ||
	    !(w->out = malloc(PSG__OUTBUF)))
		return fail(w, PSG_ERR_NOMEM, "out of memory");
	memcpy(w->tmp, path, n);
	memcpy(w->tmp + n, ".tmp.XXXXXX", 12);
	if ((w->fd = mkstemp(w->tmp)) < 0) {
		st = io_fail(w, "cannot create a temporary file beside it");
		free(w->tmp);
		w->tmp = NULL;   /* nothing to remove */
		return st;
	}
	/* umask can only be read by setting it: a brief, harmless change. */
	mode_t um = umask(0);
	umask(um);
	if (fchmod(w->fd, 0666 & ~um))
		return io_fail(w, "chmod");
	return PSG_OK;
}

static int open_writer(psg_edf_writer *w, const char *path,
		       const psg_header *h, const psg_edf_opts *o)
{
	char dur[16];
	int st = check_opts(w, h, o);
	if (st)
		return st;
	w->bdf = o->bdf != 0;
	w->discont = o->discontinuous != 0;
	w->annot_only = o->annotations_only != 0;
	w->rec_ticks = o->record_ticks ? o->record_ticks : PSG_TICKS_PER_SEC;
	if ((st = annot_size(w, o->annot_bytes ? (size_t)o->annot_bytes :
			     120)))
		return st;
	w->sub = h->subsecond;
	w->dmin = w->bdf ? -8388608 : -32768;
	w->dmax = w->bdf ? 8388607 : 32767;
	w->ns = w->annot_only ? 0 : h->nchannels;
	if (w->ns && !(w->sig = calloc((size_t)w->ns, sizeof *w->sig)))
		return fail(w, PSG_ERR_NOMEM, "out of memory");
	if ((st = record_duration(w, dur)))
		return st;
	main_header(w, h, dur);
	if (w->annot_only)   /* sized and written by _finish */
		return create_tmp(w, path);
	/* Every check before the file is created: a bad channel is an
	   argument error even where the file could not be written. */
	unsigned char *sh = NULL;
	if (!(st = sig_headers(w, h, &sh)) && !(st = sizes(w)) &&
	    !(st = create_tmp(w, path)) && !(st = emit(w, w->main, 256)))
		st = emit(w, sh, (size_t)(w->ns + 1) * 256);
	free(sh);
	return st;
}

psg_edf_writer *psg_edf_writer_open(const char *path, const psg_header *h,
				    const psg_edf_opts *o, int *status)
{
	psg_edf_opts none = {0};
	psg_edf_writer *w = calloc(1, sizeof *w);
	int st;
	open_err[0] = '\0';
	if (!w) {
		snprintf(open_err, sizeof open_err, "out of memory");
		st = PSG_ERR_NOMEM;
	} else if (!path || !h) {
		w->fd = -1;
		st = fail(w, PSG_ERR_ARG, "no path or header");
	} else {
		w->fd = -1;
		st = open_writer(w, path, h, o ? o : &none);
	}
	if (status)
		*status = st;
	if (st == PSG_OK)
		return w;
	if (w)
		psg__strlcpy(open_err, w->err, sizeof open_err);
	psg_edf_writer_free(w);
	return NULL;
}

/* ---- records ---- */

static void encode(unsigned char *p, const float *x, const wsig *g,
		   int32_t dmin, int32_t dmax, int bdf)
{
	double lo = dmin, hi = dmax;
	double scale = (hi - lo) / (g->pmax - g->pmin);
	for (int64_t i = 0; i < g->spr; i++) {
		double v = x[i];
		if (v != v)
			v = 0;   /* NaN has no digital value: physical 0 */
		double d = floor((v - g->pmin) * scale + lo + 0.5);
		d = d < lo ? lo : d > hi ? hi : d;
		uint32_t u = (uint32_t)(int32_t)d;
		*p++ = (unsigned char)u;
		*p++ = (unsigned char)(u >> 8);
		if (bdf)
			*p++ = (unsigned char)(u >> 16);
	}
}

static void drop_head(psg_edf_writer *w)
{
	free(w->q[w->qhead].s);
	if (++w->qhead == w->qn)
		w->qhead = w->qn = 0;   /* drained: reuse from the start */
}

/* The record's annotation signal: its time-keeping TAL, then queued
   TALs while they fit, then NULs. */
static int fill_tals(psg_edf_writer *w, unsigned char *p, size_t cap,
		     int64_t onset)
{
	char tk[40];
	size_t n = (size_t)fmt_seconds(tk, sizeof tk - 3, w->sub + onset, 1);
	memcpy(tk + n, "\x14\x14", 3);
	n += 3;   /* with its NUL */
	if (n > cap)
		return fail(w, PSG_ERR_LIMIT, "annot_bytes %zu cannot hold the "
			    "record time '%.*s'", cap, (int)n - 3, tk);
	memset(p, 0, cap);
	memcpy(p, tk, n);
	size_t used = n;
	while (w->qhead < w->qn) {
		const wtal *t = &w->q[w->qhead];
		if (used + t->len > cap && used == n)
			return fail(w, PSG_ERR_LIMIT, "an annotation of %zu "
				    "bytes does not fit in a record's %zu",
				    t->len, cap);
		if (used + t->len > cap)
			break;
		memcpy(p + used, t->s, t->len);
		used += t->len;
		drop_head(w);
	}
	return PSG_OK;
}

static int check_onset(psg_edf_writer *w, int64_t onset)
{
	if (w->nrec == 0 && !w->discont && onset != 0)
		return fail(w, PSG_ERR_ARG, "EDF+C data start at the header's "
			    "start time: first record at %lld ticks, not 0",
			    (long long)onset);
	if (w->nrec == 0 && (onset < 0 || onset % PSG_TICKS_PER_SEC ||
			     onset > INT64_MAX / 4))
		return fail(w, PSG_ERR_ARG, "EDF+D: the first record must "
			    "start a whole number of seconds after the start "
			    "time (readers take the sub-second start from it), "
			    "not at %lld ticks", (long long)onset);
	if (w->nrec > 0 && !w->discont && onset != w->next)
		return fail(w, PSG_ERR_ARG, "EDF+C record %lld starts at %lld "
			    "ticks, not where the previous ended (%lld)",
			    (long long)w->nrec, (long long)onset,
			    (long long)w->next);
	if (w->nrec > 0 && (onset < w->next || onset > INT64_MAX / 4))
		return fail(w, PSG_ERR_ARG, "EDF+D record %lld starts at %lld "
			    "ticks, before the previous ended (%lld)",
			    (long long)w->nrec, (long long)onset,
			    (long long)w->next);
	if (w->nrec >= MAX_FIELD8)
		return fail(w, PSG_ERR_LIMIT, "more than %d data records",
			    MAX_FIELD8);
	return PSG_OK;
}

static int usable(psg_edf_writer *w)
{
	if (w->failed)
		return w->failed;
	if (w->finished)
		return fail(w, PSG_ERR_ARG, "the writer is already finished");
	return PSG_OK;
}

int psg_edf_write_record(psg_edf_writer *w, int64_t onset,
			 const float *const *x)
{
	size_t width = w ? (w->bdf ? 3 : 2) : 0, off = 0;
	int st;
	if (!w)
		return PSG_ERR_ARG;
	if ((st = usable(w)))
		return st;
	if (w->annot_only)
		return fail(w, PSG_ERR_ARG, "an annotations-only file has no "
			    "data records");
	if ((st = check_onset(w, onset)))
		return st;
	for (int i = 0; i < w->ns; i++)
		if (!x || !x[i])
			return fail(w, PSG_ERR_ARG, "no samples for signal %d",
				    i);
	/* Annotations first: a failure there leaves nothing half-done. */
	size_t data = w->recbytes - w->annot_bytes;
	if ((st = fill_tals(w, w->rec + data, w->annot_bytes, onset)))
		return st;
	for (int i = 0; i < w->ns; i++) {
		encode(w->rec + off, x[i], &w->sig[i], w->dmin, w->dmax,
		       w->bdf);
		off += (size_t)w->sig[i].spr * width;
	}
	if ((st = emit(w, w->rec, w->recbytes)))
		return st;
	w->nrec++;
	w->next = onset + w->rec_ticks;
	return PSG_OK;
}

/* ---- annotations ---- */

static int push_tal(psg_edf_writer *w, char *s, size_t len)
{
	if (w->qn == w->qcap) {
		size_t cap = w->qcap ? 2 * w->qcap : 64;
		wtal *q = realloc(w->q, cap * sizeof *q);
		if (!q)
			return PSG_ERR_NOMEM;
		w->q = q, w->qcap = cap;
	}
	w->q[w->qn++] = (wtal){s, len};
	return PSG_OK;
}

int psg_edf_add_annotation(psg_edf_writer *w, int64_t onset,
			   int64_t duration, const char *text)
{
	char on[32], du[32] = "";
	int st;
	if (!w)
		return PSG_ERR_ARG;
	if ((st = usable(w)))
		return st;
	if (!text || !*text)
		return fail(w, PSG_ERR_ARG, "annotation without text");
	if (duration < -1 || onset > INT64_MAX / 4 || onset < -(INT64_MAX / 4)
	    || duration > INT64_MAX / 4)
		return fail(w, PSG_ERR_ARG, "annotation '%.40s': bad onset or "
			    "duration", text);
	fmt_seconds(on, sizeof on, w->sub + onset, 1);
	if (duration >= 0) {
		du[0] = 0x15;
		fmt_seconds(du + 1, sizeof du - 1, duration, 0);
	}
	size_t tl = strlen(text), len = strlen(on) + strlen(du) + tl + 3;
	char *s = malloc(len);
	if (!s)
		return fail(w, PSG_ERR_NOMEM, "out of memory");
	int k = snprintf(s, len, "%s%s\x14", on, du);
	tal_text(s + k, text);
	k += (int)strlen(s + k);
	s[k++] = 0x14;
	s[k++] = '\0';
	if (!w->annot_only && (size_t)k + TK_MAX > w->annot_bytes) {
		free(s);
		return fail(w, PSG_ERR_LIMIT, "annotation '%.40s' needs %d "
			    "bytes; annot_bytes %zu leaves %zu beside the "
			    "record time", text, k, w->annot_bytes,
			    w->annot_bytes > TK_MAX ? w->annot_bytes - TK_MAX :
						      0);
	}
	if (push_tal(w, s, (size_t)k)) {
		free(s);
		return fail(w, PSG_ERR_NOMEM, "out of memory");
	}
	return PSG_OK;
}

/* ---- finishing ---- */

/* The one record of an annotations-only file, sized to hold it all. */
static int write_annot_file(psg_edf_writer *w)
{
	size_t need = TK_MAX;
	for (size_t i = w->qhead; i < w->qn; i++)
		need += w->q[i].len;
	unsigned char sh[256];
	int st = annot_size(w, need);
	if (st || (st = sizes(w)))
		return st;
	annot_sig_header(w, sh);
	if ((st = fill_tals(w, w->rec, w->annot_bytes, 0)))
		return st;
	if ((st = emit(w, w->main, 256)) || (st = emit(w, sh, 256)) ||
	    (st = emit(w, w->rec, w->recbytes)))
		return st;
	w->nrec = 1;
	return PSG_OK;
}

static int patch_count(psg_edf_writer *w)
{
	char buf[32];
	unsigned char f[8];
	snprintf(buf, sizeof buf, "%lld", (long long)w->nrec);
	field(f, 8, buf);
	if (pwrite(w->fd, f, 8, 236) != 8)
		return io_fail(w, "");
	return PSG_OK;
}

/* After the rename, the directory entry too (best effort: some file
   systems cannot sync a directory, and the file itself is safe). */
static void sync_dir(const char *path)
{
	char *dir = strdup(path);
	if (!dir)
		return;
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	int fd = open(slash ? dir : ".", O_RDONLY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

int psg_edf_writer_finish(psg_edf_writer *w)
{
	int st;
	if (!w)
		return PSG_ERR_ARG;
	if ((st = usable(w)))
		return st;
	w->finished = 1;
	if (w->annot_only)
		st = write_annot_file(w);
	else if (w->qn > w->qhead)
		st = fail(w, PSG_ERR_LIMIT, "%zu annotation(s) did not fit in "
			  "the data records; raise annot_bytes, or add "
			  "annotations before the records that cover them",
			  w->qn - w->qhead);
	else if (w->nrec == 0)
		st = fail(w, PSG_ERR_ARG, "no data records were written");
	if (st || (st = flush_out(w)))
		return st;
	if (!w->annot_only && (st = patch_count(w)))
		return st;
	if (fsync(w->fd))
		return io_fail(w, "fsync");
	int fd = w->fd;
	w->fd = -1;
	if (close(fd))
		return io_fail(w, "close");
	if (rename(w->tmp, w->path))
		return io_fail(w, "rename");
	free(w->tmp);
	w->tmp = NULL;
	sync_dir(w->path);
	return PSG_OK;
}

void psg_edf_writer_free(psg_edf_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp)
		unlink(w->tmp);   /* unfinished or failed: leave nothing */
	for (size_t i = w->qhead; i < w->qn; i++)
		free(w->q[i].s);
	free(w->q);
	free(w->tmp);
	free(w->path);
	free(w->out);
	free(w->sig);
	free(w->rec);
	free(w);
}

const char *psg_edf_writer_tmpname(const psg_edf_writer *w)
{
	return w ? w->tmp : NULL;
}

const char *psg_edf_writer_errmsg(const psg_edf_writer *w)
{
	if (!w)
		return open_err;
	return w->err;
}
