/*
 * psg.h -- the public interface of libpsg, the library behind psgpipe.
 *
 * psgpipe turns polysomnography recordings into annotations through small
 * stage programs joined by pipes.  Every stage speaks one binary stream
 * (docs/stream.md): a header that describes the recording, its channels and
 * the result columns that stages declare, followed by time-ordered records:
 *
 *   DATA   a block of samples of one channel, with its own start time
 *   EVENT  an annotation or detected event (onset, duration, channel, label,
 *          numeric fields declared in the header)
 *   EPOCH  per-epoch feature values (declared columns)
 *   SUMMARY one figure for the whole recording (name, unit, value)
 *   ARRAY  a row of values along an axis, e.g. an epoch's spectrum (1.1)
 *   END    the closing record; a stream without it is truncated.
 *
 * Conventions (as in libsndfile/zstd): opaque handles with _open/_free pairs
 * (free accepts NULL); functions return PSG_OK (0) or a negative psg_status;
 * psg_strerror() names a status, and each handle keeps a detail message.
 * The library never prints and never exits.
 *
 * Times are integer ticks of 100 ns (as in EDF+ and edflib) from the start
 * of the recording.  A channel's rate is exact: `spr` samples every `period`
 * ticks (487.5 Hz is 975 samples per 20000000 ticks).
 */
#ifndef PSG_H
#define PSG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PSG_VERSION "0.1.0"
#define PSG_STREAM_MAJOR 1   /* incompatible changes */
#define PSG_STREAM_MINOR 3   /* compatible additions (1.1: ARRAY, 1.2: roles,
                                 1.3: records padded to 4 bytes) */
#define PSG_TICKS_PER_SEC INT64_C(10000000)
#define PSG_SCHEMA_VERSION "2.0"  /* of the result files psg-h5 writes
				     (docs/hdf5.md); 1.x and 2.x are read */

/* ---- status codes ------------------------------------------------------ */

enum psg_status {
	PSG_OK = 0,
	PSG_ERR_NOMEM = -1,       /* out of memory */
	PSG_ERR_IO = -2,          /* read or write failed (errno kept) */
	PSG_ERR_FORMAT = -3,      /* malformed input file or stream */
	PSG_ERR_TRUNCATED = -4,   /* input ends early */
	PSG_ERR_VERSION = -5,     /* stream from an incompatible version */
	PSG_ERR_ARG = -6,         /* invalid argument */
	PSG_ERR_UNSUPPORTED = -7, /* valid input this build cannot handle */
	PSG_ERR_NOTFOUND = -8,    /* no such channel, feature or file */
	PSG_ERR_LIMIT = -9        /* beyond a documented limit */
};

/* A short constant text for a status, e.g. "malformed input". */
const char *psg_strerror(int status);

/* ---- the header -------------------------------------------------------- */

#define PSG_LABEL_LEN 64
#define PSG_KIND_LEN 16
#define PSG_UNIT_LEN 16
#define PSG_TEXT_LEN 256
#define PSG_PATH_LEN 1024
#define PSG_MAX_FIELDS 32

/* Channel kinds guessed from labels (psg_guess_kind); stored as text. */
#define PSG_KIND_EEG "EEG"
#define PSG_KIND_EOG "EOG"
#define PSG_KIND_EMG "EMG"
#define PSG_KIND_ECG "ECG"
#define PSG_KIND_RESP "RESP"
#define PSG_KIND_SPO2 "SPO2"
#define PSG_KIND_AUDIO "AUDIO"
#define PSG_KIND_OTHER "OTHER"

typedef struct psg_channel {
	char label[PSG_LABEL_LEN];
	char kind[PSG_KIND_LEN];
	char unit[PSG_UNIT_LEN];          /* "uV" for every voltage */
	char transducer[PSG_TEXT_LEN];
	char prefilter[PSG_TEXT_LEN];
	double phys_min, phys_max;        /* in `unit` */
	int32_t dig_min, dig_max;         /* of the source file; 0 if none */
	int64_t spr;                      /* samples per period */
	int64_t period;                   /* ticks */
} psg_channel;

typedef struct psg_feature {          /* an epoch column */
	char name[PSG_LABEL_LEN];
	char unit[PSG_UNIT_LEN];
	char desc[PSG_TEXT_LEN];
} psg_feature;

typedef struct psg_evtype {           /* an event table */
	char name[PSG_LABEL_LEN];
	int nfields;
	char field[PSG_MAX_FIELDS][PSG_LABEL_LEN];
	char unit[PSG_MAX_FIELDS][PSG_UNIT_LEN];
} psg_evtype;

/* A channel a stage used, and for what (stream 1.2): psg-wake's "eeg". */
typedef struct psg_role {
	char stage[PSG_KIND_LEN];         /* "wake", "sws", "emg" */
	char role[PSG_KIND_LEN];          /* PSG_ROLE_* */
	int channel;                      /* index into the channel table */
} psg_role;

typedef struct psg_header {
	char software[PSG_LABEL_LEN];     /* who wrote the stream */
	char file_type[PSG_KIND_LEN];     /* "EDF", "EDF+C", "EDF+D", "BDF+C"... */
	char source[PSG_PATH_LEN];        /* path of the source recording */
	int year, month, day, hour, minute, second;
	int64_t subsecond;                /* ticks, 0..9999999 */
	char patient[PSG_TEXT_LEN];       /* raw EDF fields */
	char recording[PSG_TEXT_LEN];
	char patient_code[PSG_TEXT_LEN];  /* EDF+ subfields; "" when absent */
	char sex[PSG_KIND_LEN];
	char birthdate[PSG_KIND_LEN];
	char patient_name[PSG_TEXT_LEN];
	char patient_additional[PSG_TEXT_LEN];
	char admincode[PSG_TEXT_LEN];
	char technician[PSG_TEXT_LEN];
	char equipment[PSG_TEXT_LEN];
	char recording_additional[PSG_TEXT_LEN];
	int64_t duration;                 /* ticks, end of last sample; -1 unknown */
	int64_t epoch_len;                /* ticks, default 30 s */
	int64_t epoch_origin;             /* ticks from start of the first epoch */

	int nchannels;
	psg_channel *channels;
	int nfeatures;
	psg_feature *features;
	int nevtypes;
	psg_evtype *evtypes;
	int nhistory;
	char **history;                   /* command line of each stage */
	int nroles;
	psg_role *roles;                  /* the channels each stage used */
} psg_header;

psg_header *psg_header_new(void);
void psg_header_free(psg_header *h);
/* Deep copy into an empty header made by psg_header_new(). */
int psg_header_copy(psg_header *dst, const psg_header *src);
/* Each returns the new index (>= 0) or a negative status. */
int psg_header_add_channel(psg_header *h, const psg_channel *c);
int psg_header_add_feature(psg_header *h, const char *name, const char *unit,
			   const char *desc);
int psg_header_add_evtype(psg_header *h, const char *name, int nfields,
			  const char *const *fields, const char *const *units);
int psg_header_add_history(psg_header *h, int argc, char *const *argv);
int psg_header_add_role(psg_header *h, const char *stage, const char *role,
			int channel);
/* Index of a named item, or PSG_ERR_NOTFOUND. */
int psg_header_find_channel(const psg_header *h, const char *label);
int psg_header_find_feature(const psg_header *h, const char *name);
int psg_header_find_evtype(const psg_header *h, const char *name);
/* Number of complete epochs in the recording (0 if duration unknown). */
int64_t psg_header_nepochs(const psg_header *h);
/* "2009-12-10T12:44:02.0000000" into buf (at least 32 bytes). */
void psg_header_start_iso(const psg_header *h, char *buf, size_t n);

double psg_channel_rate(const psg_channel *c);           /* Hz */
/* Time in ticks of sample `idx` of a segment starting at t0 (rounded);
   saturates at INT64_MIN/INT64_MAX rather than overflowing. */
int64_t psg_sample_time(const psg_channel *c, int64_t t0, int64_t idx);
/* psg_sample_time for a run of consecutive samples, without its three
   64-bit divisions a sample (a fifth of a detector's time): the next
   index costs two additions.  psg_clock_time(k, c, t0, idx) returns
   exactly psg_sample_time(c, t0, idx) for any arguments; it is fast when
   idx is the previous call's idx or idx + 1 with the same c and t0.
   Start from psg_clock k = {0}. */
typedef struct psg_clock {
	const psg_channel *c;     /* NULL: seek on the next call */
	int64_t t0, idx, t;       /* the last call's arguments and answer */
	int64_t base, r, nq, nr;  /* t = base + nq; nq, nr: (r * period +
				     spr / 2) divided by spr */
	int64_t pq, pr;           /* period divided by spr, once */
} psg_clock;
int64_t psg_clock_seek(psg_clock *k, const psg_channel *c, int64_t t0,
		       int64_t idx);
/* psg_clock_time of idx, idx + 1, ..., idx + n - 1 into t[0..n), with
   the clock's state in registers between the steps. */
void psg_clock_times(psg_clock *k, const psg_channel *c, int64_t t0,
		     int64_t idx, size_t n, int64_t *t);
static inline int64_t psg_clock_time(psg_clock *k, const psg_channel *c,
				     int64_t t0, int64_t idx)
{
	if (k->c != c || k->t0 != t0 || (uint64_t)idx - (uint64_t)k->idx > 1)
		return psg_clock_seek(k, c, t0, idx);
	if (idx == k->idx)
		return k->t;
	k->idx = idx;
	if (++k->r == c->spr) {
		k->r = 0, k->nq = 0, k->nr = c->spr / 2;
		if (__builtin_add_overflow(k->base, c->period, &k->base))
			return psg_clock_seek(k, c, t0, idx);
	} else {
		k->nq += k->pq, k->nr += k->pr;
		if (k->nr >= c->spr)
			k->nr -= c->spr, k->nq++;
	}
	if (__builtin_add_overflow(k->base, k->nq, &k->t))
		return psg_clock_seek(k, c, t0, idx);
	return k->t;
}
/* Kind from label, transducer and unit: one of PSG_KIND_*. */
const char *psg_guess_kind(const char *label, const char *transducer,
			   const char *unit);
/* Channels matching a selection such as "EEG*,EMG Leg*,3": each item is an
   exact label, else a glob, else a 0-based index.  Writes up to max indices
   in header order, returns the count or a negative status; `bad` receives
   the first item that matched nothing. */
int psg_select_channels(const psg_header *h, const char *spec, int *idx,
			int max, char *bad, size_t badlen);

/* ---- channel roles (pipeline/roles.c: the one table of vendor label
   spellings, used by every detector and psg-night) ---- */
#define PSG_ROLE_EEG "eeg"
#define PSG_ROLE_EOG "eog"
#define PSG_ROLE_CHIN "chin"
#define PSG_ROLE_LEG "leg"
#define PSG_ROLE_MASSETER "masseter"
#define PSG_ROLE_ECG "ecg"
#define PSG_ROLE_MUSCLE "muscle"   /* any other muscle's surface EMG */
/* The role a label names (PSG_ROLE_*), case-insensitively, or NULL. */
const char *psg_label_role(const char *label);
/* The channel is in µV and its label names the role (for EEG: psg-read
   guessed kind EEG and the label names no other role). */
int psg_channel_has_role(const psg_channel *c, const char *role);
/* Channels in µV that can take a role, in header order: up to max
   indices into idx; returns the count. */
int psg_role_channels(const psg_header *h, const char *role, int *idx,
		      int max);
/* The channel for a role that takes one: the first referenced derivation
   ("1-2", "E1-M2") of that role, else its first channel; -1 none. */
int psg_role_first(const psg_header *h, const char *role);
/* The EEG channel whose electrode begins with the earliest of pref[0..n)
   ("C4" matches "EEG C4-M1"; a one-letter prefix needs a digit or z
   after it), a referenced derivation before the bare electrode; else an
   EEG channel named without an electrode ("EEG(sec)"); -1 none. */
int psg_role_eeg(const psg_header *h, const char *const *pref, size_t n);
/* A PSG_ROLE_MUSCLE label's muscle and side, e.g. "Erector spinae L" ->
   "paraspinal L", "TRAP R" -> "trapezius R", "Calf" -> "gastrocnemius":
   1 and the name in name[0..n), or 0 when the label names none of them. */
int psg_label_muscle(const char *label, char *name, size_t n);
/* "'a', 'b', 'c'": every label, for messages (ends in "..." if cut). */
void psg_channel_list(const psg_header *h, char *buf, size_t n);

/* ---- a baseline's trimmed mean and SD (pipeline/trimmed.c) --------------- */

/* Up to cap values, added and removed in any order, with the mean and SD
   of those between the lo_pct-th and hi_pct-th percentiles (ranks
   rounded), kept as values come and go rather than summed afresh. */
typedef struct psg_trimmed psg_trimmed;
psg_trimmed *psg_trimmed_new(int cap, double lo_pct, double hi_pct);
/* PSG_ERR_ARG when full or v is NaN. */
int psg_trimmed_add(psg_trimmed *b, double v);
/* Removes one value equal to v: 1, or 0 when there is none. */
int psg_trimmed_remove(psg_trimmed *b, double v);
void psg_trimmed_clear(psg_trimmed *b);
int psg_trimmed_count(const psg_trimmed *b);
/* The trimmed values' mean and SD (n - 1; exactly 0 when they are all
   equal); returns how many they are (0: none, NaNs). */
int psg_trimmed_stats(const psg_trimmed *b, double *mean, double *sd);
/* (v - mean) / SD of the trimmed values; 0 below two values or without
   spread. */
double psg_trimmed_z(const psg_trimmed *b, double v);
void psg_trimmed_free(psg_trimmed *b);

/* ---- muscle contractions (pipeline/muscle.c) ---------------------------- */

/* A running percentile over the last cap values. */
typedef struct psg_pctl psg_pctl;
psg_pctl *psg_pctl_new(int cap);
void psg_pctl_push(psg_pctl *p, float v);
/* The pct-th percentile (0-100) of the values held; NaN below 4. */
double psg_pctl_get(const psg_pctl *p, double pct);
void psg_pctl_reset(psg_pctl *p);
void psg_pctl_free(psg_pctl *p);

/* The rules and their sources are in pipeline/muscle.c's header. */
typedef struct psg_muscle_opts {
	double on_uv, ratio;         /* onset: rest + on_uv and ratio x rest */
	double off_uv, off_s;        /* offset: off_s within rest + off_uv... */
	double rel_off;              /* ...or within this share of its level */
	double pct, window, hold;    /* rest: percentile, s, frozen for <= s */
	double min_s;                /* shorter contractions are dropped */
	double tone_s;               /* a rise this long, on average below the
					onset rise and levelled off, is a new
					tone */
} psg_muscle_opts;
void psg_muscle_defaults(psg_muscle_opts *o);

typedef struct psg_contraction {
	double on, off;              /* s */
	double peak, mean, rest;     /* uV: above rest; rest at the onset */
	double t_peak;               /* s from onset to its highest 1-s mean */
	int sub_bursts, waxing;      /* rises; 1: waxes and wanes (>= 2) */
} psg_contraction;

typedef struct psg_muscle psg_muscle;
/* A detector for envelope values at `rate` per second; NULL: no memory. */
psg_muscle *psg_muscle_new(const psg_muscle_opts *o, double rate);
/* One envelope value e (uV) at t (s): 1 when a contraction ended, in *c. */
int psg_muscle_push(psg_muscle *m, double t, double e, psg_contraction *c);
/* The signal breaks off (a gap, the end): a contraction in progress ends
   at its last value (1, in *c), and the rest starts again. */
int psg_muscle_end(psg_muscle *m, psg_contraction *c);
/* The earliest onset it may still report (s). */
double psg_muscle_pending(const psg_muscle *m);
double psg_muscle_rest(const psg_muscle *m);
void psg_muscle_free(psg_muscle *m);

/* ---- records ----------------------------------------------------------- */

enum psg_record_kind {
	PSG_REC_DATA = 1,
	PSG_REC_EVENT = 2,
	PSG_REC_EPOCH = 3,
	PSG_REC_SUMMARY = 4,
	PSG_REC_END = 5,
	PSG_REC_ARRAY = 6    /* stream 1.1 */
};

typedef struct psg_block {
	int channel;
	int64_t t0;          /* ticks: start of the continuous segment */
	int64_t offset;      /* index of the first sample within the segment */
	int32_t n;
	const float *x;      /* physical values in the channel's unit; NULL
	                        from a file opened with no_samples */
} psg_block;

typedef struct psg_event {
	int type;            /* index into header evtypes */
	int channel;         /* -1: not tied to a channel */
	int64_t onset;       /* ticks */
	int64_t duration;    /* ticks; -1: none given */
	const char *label;   /* UTF-8 */
	int nvalues;
	const double *values;
} psg_event;

typedef struct psg_epoch {
	int64_t epoch;       /* index on the header's epoch grid */
	int n;
	const uint32_t *feature;  /* indices into header features */
	const double *value;
} psg_epoch;

typedef struct psg_summary {
	const char *name;
	const char *unit;
	double value;
} psg_summary;

/* Row `row` of the table `name` for a channel: value k lies at x0 + k dx
   on the table's axis (an epoch's PSD: row = epoch, x in Hz). */
typedef struct psg_array {
	const char *name;    /* table, e.g. "spectra" */
	int channel;         /* -1: not tied to a channel */
	int64_t row;
	double x0, dx;
	const char *unit;    /* of the values, e.g. "uV^2/Hz" */
	int n;
	const float *v;
} psg_array;

typedef struct psg_end {
	int64_t duration;    /* ticks */
	uint64_t nrecords;   /* records before END (header excluded) */
	char sha256[65];     /* of the source file; "" if not known */
} psg_end;

typedef struct psg_record {
	int kind;
	union {
		psg_block block;
		psg_event event;
		psg_epoch epoch;
		psg_summary summary;
		psg_end end;
		psg_array array;
	};
} psg_record;

/* ---- reading: a stream, or a recording file ---------------------------- */

typedef struct psg_reader psg_reader;

enum psg_edf_backend {
	PSG_EDF_AUTO = 0,    /* the native parser (the default) */
	PSG_EDF_EDFLIB = 1,  /* edflib only */
	PSG_EDF_NATIVE = 2   /* the native parser */
};

typedef struct psg_open_opts {
	int backend;                 /* enum psg_edf_backend */
	int no_samples;              /* blocks keep n and timing, x = NULL */
	const char *channels;        /* selection (psg_select_channels); NULL all */
	double block_seconds;        /* target block length; 0 = 1 s */
	int64_t epoch_len;           /* ticks; 0 = 30 s */
	int64_t epoch_origin;        /* ticks */
	int hash;                    /* compute the source's SHA-256 */
} psg_open_opts;

/* Opens a stream (path "-" is stdin; a file with the stream magic) or an
   EDF/EDF+/BDF/BDF+ recording.  On failure returns NULL and stores a status
   in *status and a message in msg (may be NULL). */
psg_reader *psg_reader_open(const char *path, const psg_open_opts *opts,
			    int *status, char *msg, size_t msglen);
psg_reader *psg_reader_open_fd(int fd, int *status, char *msg, size_t msglen);
/* psg_reader_open, and a psgpipe result file (.h5) as well: its header,
   epochs, events and figures as records, no samples; categorical columns
   as their codes.  Only a program that calls it links HDF5, whose
   libraries (curl, krb5, gnutls...) take about 10 ms to load at every
   start of every program that links them. */
psg_reader *psg_reader_open_results(const char *path,
				    const psg_open_opts *opts, int *status,
				    char *msg, size_t msglen);
void psg_reader_free(psg_reader *r);
/* The header; its duration, if unknown (-1) at the start, is set from the
   END record once that has been read. */
const psg_header *psg_reader_header(const psg_reader *r);
/* 1: a record in *rec (valid until the next call); 0: after END;
   negative: an error, see psg_reader_errmsg(). */
int psg_reader_next(psg_reader *r, psg_record *rec);
const char *psg_reader_errmsg(const psg_reader *r);
/* Warnings about non-conforming input that was read anyway. */
int psg_reader_nwarnings(const psg_reader *r);
const char *psg_reader_warning(const psg_reader *r, int i);
/* Non-zero if the source was a stream, zero for a recording file. */
int psg_reader_is_stream(const psg_reader *r);
/* The version the input stream declared (a newer minor than this build
   writes is read too): PSG_OK, or PSG_ERR_NOTFOUND for a recording. */
int psg_reader_stream_version(const psg_reader *r, int *major, int *minor);

/* ---- writing a stream -------------------------------------------------- */

typedef struct psg_writer psg_writer;

/* Writes the magic and the header at once. */
psg_writer *psg_writer_open_fd(int fd, const psg_header *h, int *status);
void psg_writer_free(psg_writer *w);
int psg_write_block(psg_writer *w, const psg_block *b);
int psg_write_event(psg_writer *w, const psg_event *e);
int psg_write_epoch(psg_writer *w, const psg_epoch *e);
int psg_write_summary(psg_writer *w, const psg_summary *s);
int psg_write_array(psg_writer *w, const psg_array *a);
/* Any record except END (pass-through). */
int psg_write_record(psg_writer *w, const psg_record *rec);
/* Hands buffered records to the pipe now (a stage about to wait on slow
   work need not hold up the next one). */
int psg_writer_flush(psg_writer *w);
/* Writes END and flushes; the writer stays valid for psg_writer_free. */
int psg_writer_finish(psg_writer *w, const psg_end *end);
const char *psg_writer_errmsg(const psg_writer *w);

/* ---- in-process links (psg-chain) -------------------------------------- */

/* A link carries one stream between two threads of one process, as a pipe
   carries it between two processes, but hands slices of buffers over
   instead of copying them through the kernel, and a record a stage
   forwards unchanged is not copied at all (docs/stream.md, "Links").
   Memory stays bounded: a writer
   ahead of its reader waits.  Its two ends are closed by whoever runs the
   threads, not by the reader or writer on it: close_write when the writer
   is done (its reader then meets the end of its input after the last
   buffer), close_read when the reader is gone (a write then fails with
   EPIPE, as on a pipe without a reader).  Free it after both threads. */
typedef struct psg_link psg_link;
psg_link *psg_link_new(void);
void psg_link_free(psg_link *l);
void psg_link_close_write(psg_link *l);
void psg_link_close_read(psg_link *l);
psg_reader *psg_reader_open_link(psg_link *l, int *status, char *msg,
				 size_t msglen);
psg_writer *psg_writer_open_link(psg_link *l, const psg_header *h,
				 int *status);

/* ---- writing EDF+/BDF+ files ------------------------------------------- */

/* psgpipe's own EDF+/BDF+ writer (edflib's cannot write EDF+D): used by
   psg-synth and by anything that exports recordings.  The file is written
   under a temporary name beside `path` and renamed by _finish; freeing an
   unfinished writer removes the temporary file.  `path` is looked at as
   psg_output_resolve does (a link's target is replaced; a device or FIFO
   is refused). */
typedef struct psg_edf_writer psg_edf_writer;

typedef struct psg_edf_opts {
	int bdf;                 /* 24-bit BDF+ instead of 16-bit EDF+ */
	int discontinuous;       /* EDF+D/BDF+D: records may leave gaps */
	int64_t record_ticks;    /* data record duration; 0 = 1 s */
	int annot_bytes;         /* TAL space per record; 0 = 120 */
	int annotations_only;    /* an annotation file (e.g. a hypnogram):
				    no signals, one record of duration 0 */
} psg_edf_opts;

/* The header gives the start date-time (sub-second included), the
   patient/recording fields and the channels: label, unit, transducer,
   prefilter, physical range (samples are clamped to it) and rate, where
   spr * record_ticks / period must be a whole number of samples. */
psg_edf_writer *psg_edf_writer_open(const char *path, const psg_header *h,
				    const psg_edf_opts *o, int *status);
/* One data record starting at `onset` ticks: x[c] holds the record's
   samples of channel c in physical units.  +C: the first record starts at
   0 and each next one where the previous ended; +D: the first starts a
   whole number of seconds after the start (readers take the sub-second
   start from h->subsecond), each next one at or after the previous end. */
int psg_edf_write_record(psg_edf_writer *w, int64_t onset,
			 const float *const *x);
/* Queues an annotation (duration -1: none); it is stored in the next
   records' annotation signal, in the order added: add annotations before
   writing the records that cover them.  One that could never fit in
   annot_bytes is PSG_ERR_LIMIT at once; any still queued at _finish too. */
int psg_edf_add_annotation(psg_edf_writer *w, int64_t onset,
			   int64_t duration, const char *text);
/* The temporary file being written (NULL once renamed), for a program
   that removes it when interrupted by a signal. */
const char *psg_edf_writer_tmpname(const psg_edf_writer *w);
/* Writes what is queued, the record count, syncs and renames. */
int psg_edf_writer_finish(psg_edf_writer *w);
void psg_edf_writer_free(psg_edf_writer *w);
/* The last error of w; with NULL, why the last _open in this thread
   failed (as libsndfile's sf_strerror(NULL)). */
const char *psg_edf_writer_errmsg(const psg_edf_writer *w);

/* ---- FFT filtering (docs/filters.md) ----------------------------------- */

/* Linear-phase FIR filters designed by the Kaiser window method (Kaiser
   1974; Oppenheim & Schafer, Discrete-Time Signal Processing, 7.6), odd
   length so that the delay is a whole number of samples and is removed
   exactly: an event's time in the output equals its time in the input. */
enum psg_fir_type {
	PSG_FIR_LOWPASS = 1, PSG_FIR_HIGHPASS, PSG_FIR_BANDPASS,
	PSG_FIR_BANDSTOP, PSG_FIR_NOTCH
};

typedef struct psg_fir_spec {
	int type;               /* enum psg_fir_type */
	double f1, f2;          /* Hz: cutoff (f1), band edges (f1-f2), or
				   notch frequency (f1) */
	double transition;      /* Hz, 0 = default (docs/filters.md) */
	double atten_db;        /* stop-band attenuation, 0 = 60 dB */
	int harmonics;          /* notch: also 2f, 3f... up to this many */
} psg_fir_spec;

/* Designs the taps for a rate: *taps (malloc'd, caller frees) of odd
   length *ntaps.  Fails with PSG_ERR_ARG and msg on impossible specs
   (cutoffs at or beyond Nyquist, empty bands). */
int psg_fir_design(const psg_fir_spec *spec, double rate, double **taps,
		   int *ntaps, char *msg, size_t msglen);
/* One line naming the filter, e.g. "HP:0.3Hz", for prefilter fields. */
void psg_fir_describe(const psg_fir_spec *spec, char *buf, size_t n);
/* Convolves two designs into one (a cascade); caller frees *out. */
int psg_fir_cascade(const double *a, int na, const double *b, int nb,
		    double **out, int *nout);

/* Streaming zero-phase FIR by overlap-save with FFTW real transforms.
   Samples go in with _push and come out, delayed by the filter's half
   length, with _pull; _finish ends a continuous segment (the signal is
   held at its last value past the end, as before the start) so that the
   output has exactly as many samples as the input, and resets the filter
   for the next segment: nothing rings across an EDF+D gap.  Plans are
   made once per FFT size and shared; PSG_FFTW_WISDOM names an optional
   wisdom file. */
typedef struct psg_filter psg_filter;
psg_filter *psg_filter_new(const double *taps, int ntaps, int *status);
void psg_filter_free(psg_filter *f);
int psg_filter_push(psg_filter *f, const float *x, int n);
/* Moves up to max filtered samples into y; returns how many. */
int psg_filter_pull(psg_filter *f, float *y, int max);
/* The filtered samples ready, in place, without _pull's copy: *n of them
   from the pointer returned (NULL when none), which stays valid until
   the next call on f other than _peek.  The caller may overwrite them,
   and drops the first n it is done with by _consume (n <= *n). */
float *psg_filter_peek(psg_filter *f, int *n);
int psg_filter_consume(psg_filter *f, int n);
/* Filtered samples ready to pull.  Output comes a FFT block at a time, so
   filters fed the same input are not equally far: pull the least of
   their counts from each to keep them sample-aligned. */
int psg_filter_ready(const psg_filter *f);
int psg_filter_finish(psg_filter *f);
/* Samples the filter holds back before output can follow the input. */
int psg_filter_latency(const psg_filter *f);
int psg_filter_fft_size(const psg_filter *f);

/* Filters run ahead on a thread of their own (ahead.c): with threads >= 2
   a thread reads the stream from `in', runs each slot's filter on its
   channel's DATA records, and hands every record on, unchanged, to the
   reader psg_ahead_reader() returns; with threads < 2 there is no thread,
   that reader is `in' and the calls below run the filters in line.
   The consumer reads its records there and calls psg_ahead_push (each
   non-empty DATA record of the slot's channel) and psg_ahead_finish
   (where that channel's segment breaks once the slot has started: a
   record whose t0 differs, or whose offset is not where the last ended;
   and for every started slot at END) where it would call the filter's
   _push and _finish, in that order: each takes the outputs the thread
   made for that same call, so _peek and _consume then see what the
   filter would have had ready.  A call out of that order fails with
   PSG_ERR_ARG.  The consumer must take each call's outputs as it reads
   its record: what the thread holds is then bounded by what the link
   between them holds.  When the reader fails or ends early,
   psg_ahead_error says whether the thread failed first (status and
   message).  Free after END or an error: free joins the thread.  Filters
   stay the caller's (free them after).
   A slot added with a drain has its filter's outputs used on the thread:
   after each _push (b the block) and _finish (b NULL) of the filter, fn
   drains it (_peek/_consume) and leaves a message of *len bytes at *msg
   (its own, valid until its next call); the consumer's matching call
   makes a copy of that message available from psg_ahead_message (until
   its next call on the slot), in place of outputs to _peek. */
#define PSG_AHEAD_SLOTS 64
typedef struct psg_ahead psg_ahead;
typedef int (*psg_ahead_drain)(void *ctx, psg_filter *f, const psg_block *b,
			       const void **msg, size_t *len);
psg_ahead *psg_ahead_new(psg_reader *in, int threads, int *status);
void psg_ahead_free(psg_ahead *a);
/* A slot for f on the channel: its index, or PSG_ERR_ARG once started. */
int psg_ahead_add(psg_ahead *a, int channel, psg_filter *f);
int psg_ahead_add_drain(psg_ahead *a, int channel, psg_filter *f,
			psg_ahead_drain fn, void *ctx);
int psg_ahead_start(psg_ahead *a, char *msg, size_t msglen);
psg_reader *psg_ahead_reader(psg_ahead *a);
int psg_ahead_push(psg_ahead *a, int slot, const psg_block *b);
int psg_ahead_finish(psg_ahead *a, int slot);
float *psg_ahead_peek(psg_ahead *a, int slot, int *n);
int psg_ahead_consume(psg_ahead *a, int slot, int n);
const void *psg_ahead_message(psg_ahead *a, int slot, size_t *len);
int psg_ahead_error(psg_ahead *a, const char **msg);

/* ---- spectra (Welch 1967) --------------------------------------------- */

/* Welch's averaged periodogram, accumulated over one stretch (an epoch):
   Hann windows (periodic, as scipy) of window_s seconds with the given
   overlap, mean removed per window, one-sided PSD in unit^2/Hz.  Samples
   go in with _push; _restart drops a partial window (a gap: windows never
   cross one); _clear also zeroes the sums (a new epoch).  Plan made once
   (FFTW_ESTIMATE, double precision). */
typedef struct psg_welch psg_welch;
psg_welch *psg_welch_new(double rate, double window_s, double overlap,
			 int *status);
void psg_welch_free(psg_welch *w);
void psg_welch_push(psg_welch *w, const float *x, int64_t n);
void psg_welch_restart(psg_welch *w);
void psg_welch_clear(psg_welch *w);
/* Whole windows accumulated since the last _clear. */
int psg_welch_windows(const psg_welch *w);
/* Samples that complete the next window (at least 1): a caller that reads
   the sums after each window pushes this many at a time. */
int psg_welch_room(const psg_welch *w);
/* Bins 0..nyquist, their spacing, and the mean PSD (NULL if no window). */
int psg_welch_bins(const psg_welch *w);
double psg_welch_df(const psg_welch *w);
const double *psg_welch_psd(psg_welch *w);
/* Power in [lo, hi) Hz (bins whose frequency lies there, times df);
   NaN without a window. */
double psg_welch_band(const psg_welch *w, double lo, double hi);
/* Spectral edge: the lowest bin frequency at which the cumulative power
   from lo reaches share (0-1) of the power in [lo, hi); NaN if none. */
double psg_welch_edge(const psg_welch *w, double lo, double hi,
		      double share);

/* ---- generated nights with ground truth (psg-synth, docs/synth.md) ----- */

enum psg_stage {
	PSG_STAGE_UNKNOWN = -1,
	PSG_STAGE_W = 0, PSG_STAGE_N1 = 1, PSG_STAGE_N2 = 2, PSG_STAGE_N3 = 3,
	PSG_STAGE_R = 4
};
/* "W", "N1", "N2", "N3", "R" or "?". */
const char *psg_stage_name(int stage);

/* Sleep statistics of a hypnogram, one stage per epoch (enum psg_stage,
   or PSG_HYPNO_GAP for an epoch outside the recording: an EDF+D pause),
   as pipeline/hypno.c defines them after YASA's sleep_statistics and
   Luna's HYPNO.  Minutes; NaN where undefined (no sleep, no REM). */
#define PSG_HYPNO_GAP (-2)
typedef struct psg_sleep_stats {
	double trt;               /* recorded time, gaps excluded */
	double gap;               /* EDF+D pauses */
	double unscored;          /* recorded, no stage */
	double tst, spt, waso;
	double se, sme;           /* % */
	double sol, sol_persistent, rem_latency;
	double stage_min[5];      /* by enum psg_stage */
	double stage_pct[5];      /* of TST (W: NaN) */
	int awakenings, stage_shifts;
	int fragmentations;       /* shifts from N2, N3, R to N1 or W */
	double fragmentation_index;  /* those per hour of TST */
	int cycles;               /* NREM-REM cycles */
} psg_sleep_stats;
int psg_hypno_stats(const signed char *stage, size_t n, double epoch_min,
		    psg_sleep_stats *s);

/* A hypnogram as runs of stages.  Reads an EDF+ annotation file ("Sleep
   stage W/1/2/3/4/R/?", N1-N3), a DREAMS text file ("[Hypnogram]", one code
   per 5 s), a text file of one stage per epoch_len, or a TSV of "onset
   duration stage" (seconds).  *runs is malloc'd; the caller frees it. */
typedef struct psg_stage_run {
	int64_t onset, duration;  /* ticks */
	int stage;                /* enum psg_stage */
} psg_stage_run;
int psg_hypnogram_read(const char *path, int64_t epoch_len,
		       psg_stage_run **runs, size_t *n, char *msg,
		       size_t msglen);

/* Reference events from a text file (psg-score --events): a TSV whose
   header line names an "onset" column (s; "duration", "kind", "label"
   optional), or a DREAMS event file ("[name]", then "onset duration" in
   s per line).  pattern (fnmatch; NULL: all) is matched against kind,
   else label, else the DREAMS name.  Returns PSG_OK with *ev malloc'd
   (the caller frees it; duration -1 when the TSV has none); 1 when the
   file is neither (read it with psg_reader_open: EDF+ annotations); or an
   error with msg: PSG_ERR_NOTFOUND for a pattern and no kind or label
   column, PSG_ERR_LIMIT for an onset beyond psg_max_duration(). */
typedef struct psg_ref_event {
	int64_t onset, duration;  /* ticks */
} psg_ref_event;
int psg_events_read_text(const char *path, const char *pattern,
			 psg_ref_event **ev, size_t *n, char *msg,
			 size_t msglen);

typedef struct psg_synth psg_synth;

typedef struct psg_synth_opts {
	double hours;            /* recording length; 0 = 8 */
	uint64_t seed;           /* same seed and version, same night */
	const char *profile;     /* NULL = "healthy"; see docs/synth.md */
	int eeg_rate;            /* Hz for EEG and EOG; 0 = 256 */
	int emg_rate;            /* Hz for EMG; 0 = 512 */
	int nchannels;           /* 0 = the profile's montage (16) */
	int mains_hz;            /* 50 or 60; 0 = profile (50); -1 = none */
	const char *hypnogram;   /* follow this hypnogram (EDF+ or text) */
	int64_t epoch_len;       /* ticks of the truth epochs; 0 = 30 s */
	int gaps;                /* recording pauses (for EDF+D) */
	int muscles;             /* paraspinal, trapezius and calf EMG with
				    spasms, cramps, twitch trains, movements */
} psg_synth_opts;

typedef struct psg_truth_event {
	int64_t onset, duration; /* ticks */
	int channel;             /* -1: not tied to one channel */
	const char *kind;        /* "slow_wave", "spindle", "lm", ... */
	double amplitude;        /* uV: p2p for waves, RMS for EMG bursts */
	double value;            /* per kind: frequency (Hz) of waves and
				    spindles, PLM series id, 0 */
	int64_t id;              /* unique within the night */
} psg_truth_event;

typedef struct psg_truth_epoch {
	int64_t epoch;
	int stage;               /* enum psg_stage */
	double sws_fraction;     /* covered by qualifying slow waves (AASM) */
	int sw_count;            /* slow waves with onset in the epoch */
	double recorded;         /* fraction not in a recording pause */
} psg_truth_epoch;

psg_synth *psg_synth_new(const psg_synth_opts *o, int *status, char *msg,
			 size_t msglen);
void psg_synth_free(psg_synth *s);
/* Channels, start date-time and epoch grid of the night. */
const psg_header *psg_synth_header(const psg_synth *s);
/* The next 1-s data record: its onset (pauses make jumps) and one array
   per channel of spr samples.  1: a record; 0: the night is over. */
int psg_synth_record(psg_synth *s, int64_t *onset, const float *const **x);
/* Ground truth known so far, each item once, about in time order.
   1: an item; 0: none now (more may come after the next record). */
int psg_synth_take_event(psg_synth *s, psg_truth_event *e);
/* The i-th kind of truth event ("slow_wave", "lm", ...), NULL past the
   last: for declaring one event table per kind. */
const char *psg_synth_kind(int i);
int psg_synth_take_epoch(psg_synth *s, psg_truth_epoch *e);

/* ---- reading result files (docs/hdf5.md) ------------------------------- */

/* A psgpipe result file (psg-h5's HDF5, schema major 1 or 2) read into
   memory whole, except /signals and /spectra: its tables and figures grow
   with the events found, not with the samples.  Tables are read
   generically, column by column, so columns a later minor version adds
   arrive too.  Numbers (integers and floats) become doubles; strings and
   HDF5 enums (by their names) become text, and so do the categorical
   columns of a 1.x file, which stored codes (psg_coded_name): callers see
   the names of schema 2.0 either way. */
typedef struct psg_result psg_result;

typedef struct psg_column {
	const char *name;
	const char *unit;           /* "" when none */
	const char *desc;           /* "" when none */
	int is_text;                /* 1: text[], else num[] */
	const double *num;          /* nrows values */
	const char *const *text;    /* nrows UTF-8 strings, never NULL */
} psg_column;

typedef struct psg_table {
	const char *name;           /* link name: "epochs", "arousals"... */
	const char *type;           /* events: the declared type, else name */
	int64_t nrows;
	int ncols;
	const psg_column *col;
} psg_table;

typedef struct psg_figure {         /* one /summary figure */
	const char *name, *unit;
	double value;
} psg_figure;

/* NULL on failure with *status set (PSG_ERR_IO: cannot open;
   PSG_ERR_FORMAT: not HDF5, or not a psgpipe result; PSG_ERR_VERSION:
   a schema major other than 1 and 2); the message is psg_result_errmsg(NULL). */
psg_result *psg_result_open(const char *path, int *status);
void psg_result_close(psg_result *r);
/* The last error of r; with NULL, why the last _open in this thread
   failed. */
const char *psg_result_errmsg(const psg_result *r);
/* A root attribute as text (numbers as %.17g), "" when absent. */
const char *psg_result_attr(const psg_result *r, const char *name);
/* A numeric root attribute, NaN when absent or not a number. */
double psg_result_attr_num(const psg_result *r, const char *name);
int psg_result_nhistory(const psg_result *r);
const char *psg_result_history(const psg_result *r, int i);
/* "channels", "segments", "epochs" or an event table's link name; NULL
   when the file has none. */
const psg_table *psg_result_table(const psg_result *r, const char *name);
/* The event tables in link-name order. */
int psg_result_nevents(const psg_result *r);
const psg_table *psg_result_events(const psg_result *r, int i);
/* The /summary figures in name order. */
int psg_result_nfigures(const psg_result *r);
const psg_figure *psg_result_figure(const psg_result *r, int i);
/* Index of a column, or PSG_ERR_NOTFOUND. */
int psg_table_column(const psg_table *t, const char *name);
/* Whether a result file's schema_version attribute names a schema this
   libpsg reads: PSG_OK for majors 1 and 2, PSG_ERR_FORMAT for "" (not a
   psgpipe result), PSG_ERR_VERSION for another major. */
int psg_schema_check(const char *version);
/* psgpipe's call for epoch `row` of /epochs, from its `wake` and `sws`
   columns: "W" wake, "N3" slow-wave sleep, "N" other sleep (psgpipe does
   not split N1, N2 and REM), "?" unusable or unknown; NULL when the table
   has neither column.  Without `wake`, epochs that are not N3 are "?". */
const char *psg_epoch_call(const psg_table *epochs, int64_t row);
/* The night's best stage for epoch `row`: psg-stage's computed hypnogram
   (the /epochs `stage` column: W, N1, N2, N3, R, "?" unscored) when the
   table has it, else psg_epoch_call; NULL when neither is there. */
const char *psg_epoch_stage(const psg_table *epochs, int64_t row);
/* Into h (from psg_header_new): what a result keeps of the stream's
   header in root attributes -- start date-time, EDF+ fields, software,
   file type, source, duration, epoch grid, history; not its channels,
   features or event types.  PSG_ERR_FORMAT: start_time is not a
   date-time. */
int psg_result_header(const psg_result *r, psg_header *h);
/* The shortest text ("%.15g" to "%.17g") that reads back as v. */
void psg_number_text(char *buf, size_t n, double v);

/* ---- categorical columns (pipeline/coded.c) ---------------------------- */

/* Stages send a category as a number (stream fields and features are
   float64); result files store its name (schema 2.0).  `table` is an
   event type ("emg_bursts") or "epochs".  Names are ASCII and shorter
   than PSG_CODED_LEN. */
#define PSG_CODED_LEN 16
/* 1 when the column holds categories. */
int psg_coded_column(const char *table, const char *column);
/* The name of a code: "" for NaN (no value); NULL when the column is not
   categorical or the code has no name. */
const char *psg_coded_name(const char *table, const char *column,
			   double code);
/* The code of a name; NaN for "" and for a name the column has not. */
double psg_coded_value(const char *table, const char *column,
		       const char *name);

/* ---- limits (docs/stream.md, "Limits") -------------------------------- */

/* Every reader (stream, edflib, native EDF) refuses, with PSG_ERR_LIMIT or
   PSG_ERR_FORMAT, a header or record beyond these, so that no stage sizes
   a table or a loop from an absurd value: a recording (and any time in
   it) of at most psg_max_duration() ticks; epochs of at least 1 s; rates
   of at most 1 MHz; start years 1 to 9999; finite physical ranges; each
   channel's blocks in increasing time, never overlapping. */
#define PSG_MAX_DAYS_DEFAULT 30
#define PSG_MAX_DAYS_CEILING 3650
#define PSG_MIN_EPOCH PSG_TICKS_PER_SEC
#define PSG_MAX_RATE 1e6
#define PSG_MIN_YEAR 1
#define PSG_MAX_YEAR 9999
#define PSG_MAX_RECORD (64 << 20)   /* bytes of one EDF/BDF data record */
/* The longest recording in ticks: PSG_MAX_DAYS_DEFAULT days, or the
   environment's PSG_MAX_DAYS (1 to PSG_MAX_DAYS_CEILING). */
int64_t psg_max_duration(void);

/* ---- output files ------------------------------------------------------ */

/* Where an output named `path` goes.  Every file psgpipe writes is written
   complete under a temporary name beside out->path and renamed over it:
   an absent or regular file is replaced; a symbolic link to a regular file
   is followed (out->path is its target, which is replaced; the link
   stays).  An existing device, FIFO or socket is never renamed over: with
   stream_ok it is to be written in place (out->in_place = 1), without it
   is refused.  A directory or a dangling link is refused.  Returns PSG_OK
   or a status with a message naming path in msg. */
typedef struct psg_outpath {
	char path[PSG_PATH_LEN];
	int in_place;
} psg_outpath;
int psg_output_resolve(const char *path, int stream_ok, psg_outpath *out,
		       char *msg, size_t msglen);

/* ---- small helpers ----------------------------------------------------- */

/* SHA-256 of a file as 64 hex digits (+NUL) in out. */
int psg_sha256_file(const char *path, char out[65]);

/* Ticks from 1970-01-01T00:00:00 of the header's start (no time zone);
   INT64_MIN for a date-time outside the limits (years 1-9999). */
int64_t psg_header_start_ticks(const psg_header *h);

#ifdef __cplusplus
}
#endif
#endif
