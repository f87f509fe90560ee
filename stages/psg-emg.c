/*
 * psg-emg -- muscle activity in sleep from leg, chin, masseter and any
 * other muscle's EMG: leg movements (LM), periodic limb movement (PLM)
 * series, spasms, twitches, rhythmic masticatory muscle activity (RMMA,
 * bruxism), the REM atonia index, and on every channel twitches, bursts
 * and spasms with their shape, joined across muscles, with the arousals
 * and awakenings that go with them (issue 18).
 *
 * Channels.  Roles are guessed from labels: legs ("Leg L", "Right Leg",
 * "LAT", "RAT", "Tib"...), chin ("Chin1-Chin2", "EMG submental",
 * "EMG"), masseter ("Masseter R"); --legs, --chin and --masseter override
 * ("none" drops a role); other muscles (paraspinal/erector spinae,
 * trapezius, sternocleidomastoid, deltoid, forearm flexors, gastrocnemius/
 * calf, pipeline/roles.c) take only the general rules below, and --muscle
 * SEL[=NAME] adds any channel as one, reported as NAME (default its
 * label).  Only voltage channels (uV) are used; none
 * whose digital step exceeds a quarter of the onset rise (2 uV): its
 * quantisation would be scored as bursts; and none sampled below twice
 * the band's top (Nyquist: 200 Hz for 10-100 Hz, which is also the AASM
 * Manual's minimal EMG rate): the amplitude rules are of the whole band.
 * Each refusal is a warning naming the channel, its rate and the band;
 * the other roles go on.  The ECG must be 100 Hz or more (R peaks timed
 * to a tenth of a QRS), or the bleed stays, with a warning saying why.
 *
 * Conditioning (each an option):
 *  - zero-phase FIR band-pass 10-100 Hz (WASM 2016 recommends 10 Hz high-
 *    pass; the top is cut to 0.4 x rate when the rate is too low), with
 *    notches at 50 and 60 Hz and their second harmonic (--mains), 5-Hz
 *    transitions: a 1-Hz notch rings for a second after every burst;
 *  - ECG bleed removal: R peaks are found on the ECG channel (5-25 Hz,
 *    adaptive threshold), and each EMG channel subtracts, beat by beat, the
 *    median of its own last 15 beats' segments (-0.15 to +0.25 s around
 *    R): the bleed repeats with every beat while muscle noise does not,
 *    and the median ignores beats that fell into a burst.  Beats whose
 *    residual is 3x the usual are kept out of the template;
 *  - the envelope is the rectified signal averaged over 0.1 s, at about
 *    100 Hz;
 *  - the resting level (baseline) is the 20th percentile of the envelope's
 *    0.5-s means in a centred window of 300 s (legs) or 60 s (chin and
 *    masseter, whose tone changes with the sleep stage).  A low percentile
 *    stays at rest while up to 80 % of the window is active; on the legs
 *    the rest does not rise while a burst lasts, for up to 10 min (--hold:
 *    nocturnal leg cramps last seconds to 10 minutes, Allen & Kirby 2012,
 *    Am Fam Physician 86:350), so a 5-min spasm is one.
 *
 * Bursts (WASM 2016, Ferri et al., Sleep Med 26:86; AASM Manual v2.6):
 *  - legs: onset where the envelope rises 8 uV above rest; offset at the
 *    start of >= 0.5 s whose mean stays within 2 uV of rest (and whose
 *    every value within 4 uV: a noise-robust reading of WASM's "does not
 *    exceed 2 uV above resting");
 *  - chin and masseter: onset at twice the resting level (AASM bruxism
 *    rule, >= 2x background), at least 1 uV above it; offset after 0.2 s
 *    within half the onset rise (bruxism bursts come 0.3-1 s apart, and a
 *    REM rise of 1 uV is within the filters' ringing at a quarter);
 *  - bursts shorter than 0.1 s are dropped (AASM: transient muscle
 *    activity lasts 0.1-5 s);
 *  - twitch: < 0.5 s, on the chin reaching 4x rest (AASM transient muscle
 *    activity); lm (legs): 0.5-10 s; spasm (legs): > 10 s, with its
 *    duration and intensity; burst: other chin activity of >= 0.5 s
 *    (tone); rmma (chin, masseter): >= 3 bursts whose mean is >= 2x rest,
 *    0.25-2 s (phasic) or up to 10 s (tonic, in Lavigne's mixed episodes),
 *    one at least of 0.5-2 s (a run of twitch-length bursts is a cluster
 *    of phasic REM twitches), joined when < 2 s apart (Lavigne et al.
 *    1996, J Dent Res 75:546; RMMA bursts come at about 1 Hz, while REM
 *    twitches do not); one episode on chin and masseter is one.
 *  - LMs of two legs that overlap or lie < 0.5 s apart are one bilateral
 *    LM, up to 15 s (WASM); candidate LMs (CLM) are mono 0.5-10 s or
 *    bilateral up to 15 s.
 *  - PLM series: >= 4 consecutive CLMs with onset-to-onset intervals of
 *    10-90 s; a shorter or longer interval, or a leg burst that is not a
 *    CLM (a spasm), ends the series (WASM 2016).
 *  - an LM is linked to an arousal (type `arousals`, from psg-wake) when
 *    they overlap or are < 0.5 s apart (WASM, AASM).
 *
 * General muscle events, on every channel (pipeline/muscle.c has the
 * rules and their sources): a rest that long contractions cannot move
 * (10th percentile of the last 300 s, held during a contraction for up to
 * --hold); onset 8 uV (WASM) and 2x (AASM) above it, offset at WASM's 0.5
 * s within 2 uV, or within 0.2 of the contraction's level (our choice);
 * a rise of --spasm s whose mean stays below the onset rise is a new
 * tone (the chin's, awake), and the rest starts again from it;
 * twitch < 0.5 s (--twitch, as on legs and chin: WASM's LM starts at
 * 0.5 s), burst 0.5-10 s, spasm >= 10 s (--spasm: WASM's longest LM; no
 * scoring rule defines a spasm), each with
 * peak, mean, rest, time to peak and sub-bursts.  Contractions of several
 * muscles that overlap or lie < 0.5 s apart (WASM's bilateral rule) and
 * start < 3 s apart (--join, our choice: one movement starts together)
 * are one event listing them.  Each event has its sleep state and an
 * arousal or awakening (psg-wake's) when one overlaps it or lies < 0.5 s
 * from it, WASM 2016's LM-arousal window with the LMs' logic.  Figures
 * per muscle: spasms, their minutes and intensity, spasms in sleep,
 * those with an arousal or awakening, twitches and bursts per hour.
 * Indices are per hour of sleep when the stream has psg-wake's `wake`
 * epochs (1 wake, 0 sleep, -1 unusable), else when it has a hypnogram's
 * "Sleep stage" annotations, else per hour of recording; the summary
 * `emg_index_basis` says which (1, 2, 0).
 * REM atonia index (Ferri et al. 2008, J Sleep Res 17:89; noise correction
 * of Ferri et al. 2010, Sleep Med 11:947): 1-s means of the rectified chin
 * EMG in REM (hypnogram annotations), each minus the minimum of the 60
 * around it; AI = share <= 1 uV / (1 - share in 1-2 uV).  REM is the
 * imported hypnogram's when the stream has one, else psg-stage's
 * computed `sleep_stage` R epochs (which come at its END: each second's
 * class, one byte, and each chin burst's onset wait for them); the
 * summary `emg_rem_source` says which (2 imported, 1 computed, 0 none).
 *
 * Output: events `emg_bursts` (twitches, chin bursts and RMMA as they
 * are found, chin and masseter ones once no channel can still merge them,
 * or with psg-wake's `wake` epochs, which it decides at its END, at the
 * end with their sleep state; LMs and spasms at the end of the stream,
 * when series, arousals, sleep and the other legs are known), one per
 * movement however many legs show it; `emg_channels` (each channel's
 * burst of an event on several) and `plm_series`; `muscle_events` (once
 * no channel can join them; with psg-wake's arousals, awakenings or
 * epochs in the stream, at the end) and `muscle_parts`; summaries
 * (docs/hdf5.md).  Every input record passes through untouched.
 * Memory: per channel the filter and 150 s of envelope (100 Hz); LMs,
 * spasms, arousals and stage annotations are held until END (tens per
 * hour, 40 bytes each), as are psg-wake's calls (1 byte per epoch) and,
 * with them, the other events (hundreds per hour, 80 bytes each) and the
 * muscle contractions (40 bytes each); without them, contractions wait
 * only until no channel can join them.
 */
#include "stage.h"
#include "tmpout.h"

#include <ctype.h>
#include <math.h>
#include <strings.h>
#ifdef __SSE__
#include <xmmintrin.h>
#endif

#define MAXCH 32                /* EMG channels used */
#define NBEAT 15                /* beats in the median ECG template */
#define RCAP 256                /* R peaks kept (about 4 min) */
#define NPEND 64                /* chin bursts of one bruxism episode */
#define MINI 61                 /* atonia: a mini-epoch and 30 s each side */
#define NOTCH_TR 5               /* Hz: a narrower notch rings for ~1 s */
#define ECG_MIN_RATE 100         /* Hz: R peaks timed to a tenth of a QRS */


enum role { R_LEG, R_CHIN, R_JAW, R_MUSCLE };
/* The codes of emg_bursts.kind; their names are libpsg's (coded.c). */
enum kind { K_TWITCH = 1, K_LM, K_SPASM, K_RMMA, K_BURST };
#define KIND_NAME(k) psg_coded_name("emg_bursts", "kind", (k))

typedef struct opts {
	const char *legs, *chin, *jaw, *ecg;
	const char *muscle[MAXCH];  /* --muscle SEL[=NAME], as given */
	int nmuscle;
	psg_muscle_opts mo;         /* general contractions, every channel */
	double spasm_s, join;       /* spasm from; muscles' onsets within */
	double mpct;                /* their rest's percentile */
	const char *trace;           /* text file of envelope and rest */
	double band_lo, band_hi;
	int mains;                  /* 50, 60, 0 none, -1 both */
	double smooth;              /* envelope, s */
	double on_uv, off_uv, off_s, chin_off_s;
	double chin_ratio, chin_min, chin_off, phasic;
	double min_burst, twitch_max, lm_max, bilat_gap, bilat_max;
	double imi_min, imi_max;
	int series_min;
	double rmma_min, rmma_max, rmma_tonic, rmma_gap;
	int rmma_bursts;
	double pct, leg_win, chin_win;
	double hold;                /* s: leg rest held during a burst */
	double arousal_gap;
	int optional;               /* --optional: pass unusable input through */
	int threads;                /* 2: the filters on a thread of their own */
} opts;

typedef struct burst {          /* a finished burst */
	double on, off, peak, mean, base;
	int ch;
} burst;

typedef struct held {           /* a leg burst kept for series (40 B) */
	double on, off;
	float peak, mean, base;
	int16_t ch;
	int8_t kind, bilateral, arousal, sleep;
	int16_t nch;                /* channels it was seen on */
	int32_t series;
} held;

typedef struct part {           /* one channel's burst of a held event */
	size_t owner;               /* the event: index into lm */
	double on, off;
	float peak, mean, base;
	int ch;
} part;

typedef struct row {            /* an emg_bursts row */
	burst b;
	int kind, bilateral, bursts, channels;
	double series, arousal;
} row;

/* Sample times (psg_sample_time) of runs of consecutive samples, by a
   table of one record's offsets: a time is its record's start plus the
   table's entry, an addition a sample, where the clock's steps carry a
   remainder from each sample to the next. */
typedef struct ticks {
	const psg_channel *pc;
	int64_t *off;               /* off[r], r < spr; NULL: by the clock */
	psg_clock clk;
} ticks;

typedef struct emgch {
	int ch, role;
	char name[PSG_LABEL_LEN];   /* the muscle's, for its figures */
	psg_muscle *mus;            /* general contractions */
	long m_count[3];            /* twitches, bursts, spasms */
	long m_sleep, m_ar, m_aw;   /* spasms in sleep; with arousal, awakening */
	double m_s, m_amp;          /* spasm seconds, and x mean */
	double rate, env_rate;
	psg_filter *bp;
	int slot;                   /* bp's in S->ah */
	int started;
	int64_t t0, next, k;        /* input segment; k: next filtered sample */
	ticks tk;                   /* samples' times */
	/* ECG bleed template */
	int pre, post, tlen;        /* samples before and after R */
	int tstride;                /* tlen rounded up to WIDE */
	int wide;                   /* template_swap WIDE lanes at a time */
	uint64_t beat;              /* the next R peak (index into S->r) */
	float *cap, *hist, *srt, *med, res[NBEAT];
	int capn, nhist, hnext;
	/* envelope */
	float *box;                 /* empty places hold 0 */
	double boxsum;
	int boxlen, boxi, nbox, step, stepi;
	int blen, bn;               /* 0.5-s block means for the baseline */
	double bsum;
	psg_pctl *base;
	double rest;                /* its percentile, kept from push to push */
	double rise;                /* the rise over rest that starts a burst */
	double *et;                 /* look-ahead queue: time, value */
	float *ev;
	int eqcap, eqh, eqn;
	/* detector */
	int in, W;
	double on, last_t, peak, sum, qsum, b_on;
	long n;
	double now;                 /* time of the last envelope value seen */
	double now_sec;             /* floor(now), kept */
	float *qw;                  /* the last W values above rest */
	int qwi, qwn;
	double base_sum;
	long base_n;
	/* chin: bursts of a bruxism episode being gathered */
	burst pend[NPEND];
	int npend;
} emgch;

typedef struct jawev {          /* a chin or masseter event, held */
	burst b;
	int kind, bursts;
} jawev;

typedef struct mpart {          /* one muscle's contraction, held */
	double on, off;
	float peak, mean, rest, t_peak;
	int16_t sub, c;             /* sub-bursts; index into S->c */
	int8_t waxing;
	int32_t event;              /* its muscle event, from 1 */
} mpart;

typedef struct mevent {         /* contractions of one movement */
	double on, off;
	size_t first, n;            /* its parts: mp[first..first + n) */
	int sleep, arousal, awakening;   /* -1 not known */
} mevent;

typedef struct stagerun {
	double on, off;
	int stage;                  /* enum psg_stage */
} stagerun;

/* The ECG's R peaks, found where its filter runs: on the reading thread
   with psg_ahead (its drain), or in line.  Each call of the filter leaves
   a message: the time before which R peaks are final, then the R peaks
   it found. */
typedef struct ecgdet {
	double rate;
	int started;
	int64_t t0, next, k;        /* segment; k: next filtered sample */
	ticks tk;                   /* samples' times */
	double smax[8], cur_max, sec_end, last_r;
	double thr;                 /* ecg_threshold() of smax, kept */
	int nsmax, in_qrs, need_next;
	double q_start, q_peak, q_t, q_before, q_after, prev_a;
	double known;
	double *msg;                /* known, R peaks */
	size_t nmsg, msgcap;
	int nomem;
} ecgdet;

typedef struct state {
	const opts *o;
	FILE *trace;
	const psg_header *h;
	int nch;
	emgch c[MAXCH];
	int ev_type, sr_type, ann_type, ar_type, f_wake, f_stage;
	/* ECG */
	int ecg;
	psg_filter *ecgf;
	psg_ahead *ah;              /* runs the filters: here or ahead */
	int ecg_slot;
	double ecg_rate, ecg_wait;    /* Hz; s of EMG held for R peaks */
	int ecg_started;
	int64_t e_t0, e_next;
	ecgdet ed;                  /* the R peaks' detector */
	struct {
		double rate, *v;
		int n;
	} taps[MAXCH];              /* the EMG filters' taps, per rate */
	int ntaps;
	double known;               /* R peaks before this time are final */
	double r[RCAP];
	uint64_t nr;
	/* held until END */
	held *lm;
	size_t nlm, lmcap;
	part *part;                 /* of the LMs and spasms on several legs */
	size_t npart, partcap;
	row *rows;                  /* rows waiting for psg-wake's calls */
	size_t nrows, rowcap;
	int64_t nid;                /* emg_bursts rows written */
	double (*ar)[2];
	size_t nar, arcap;
	double (*aw)[2];            /* psg-wake's awakenings */
	size_t naw, awcap;
	int aw_type, me_type, mp_type, m_hold;
	mpart *mp;                  /* contractions not yet written */
	size_t nmp, mpcap;
	int64_t n_mevent, n_mspasm, n_multi;
	double m_tick;              /* next time the events are flushed */
	stagerun *runs;
	size_t nruns, runcap;
	signed char *wake;
	size_t nwake, wakecap;
	/* psg-stage's stages, and what waits for them (no imported REM) */
	signed char *stg;
	size_t nstg, stgcap;
	unsigned char *cls;         /* per second: 0 none, 1 <= 1 uV, 2 1-2, 3 */
	size_t ncls, clscap;
	double *bon;                /* chin burst onsets, s */
	size_t nbon, boncap;
	/* atonia (first chin) */
	int aton;
	double mini_v[MINI];
	int64_t mini_s[MINI];
	int nmini;
	int64_t cur_sec, last_eval;
	double cur_sum;
	long cur_n, rem_s, ai_le1, ai_1to2, rem_bursts;
	int ch_type;                /* emg_channels */
	/* counts */
	long n_twitch, n_spasm, n_rmma;
	jawev *jaw;
	size_t njaw, jawcap;
	double spasm_s, spasm_amp;
} state;

static void muscle_add(state *S, const emgch *c, const psg_contraction *k);
static void m_flush(state *S, psg_writer *w, double upto);
static double m_upto(const state *S);

static void usage(FILE *f)
{
	fputs("usage: psg-emg [options] < in > out\n"
	      "Leg movements, PLM series, spasms, twitches, bruxism (RMMA) and "
	      "REM atonia\nfrom leg, chin and masseter EMG.\n\n"
	      "Channels (default: guessed from labels; 'none' drops a role):\n"
	      "      --legs SEL         leg (tibialis) channels, e.g. 'Leg L,Leg R'\n"
	      "      --chin SEL         chin (submental) channel(s)\n"
	      "      --masseter SEL     masseter channel(s)\n"
	      "      --ecg SEL          ECG channel for bleed removal\n"
	      "Conditioning:\n"
	      "      --band LO-HI       EMG band-pass in Hz (default 10-100; top "
	      "<= 0.4 x rate)\n"
	      "      --mains HZ         notch 50, 60, 0 (none) or auto (both; "
	      "default)\n"
	      "      --smooth SEC       envelope averaging (default 0.1)\n"
	      "      --baseline-pct P   resting level percentile (default 20)\n"
	      "      --leg-window SEC   its centred window for legs (default 300)\n"
	      "      --chin-window SEC  for chin and masseter (default 60)\n"
	      "      --hold SEC         leg rest does not rise during a burst "
	      "for up to SEC\n"
	      "                         (default 600: nocturnal cramps last "
	      "up to 10 min)\n"
	      "Bursts (WASM 2016, AASM v2.6, Lavigne 1996):\n"
	      "      --on UV            leg onset above rest (default 8)\n"
	      "      --off UV           leg offset within rest + UV (default 2)\n"
	      "      --off-time SEC     ...for at least SEC (default 0.5)\n"
	      "      --chin-ratio X     chin onset at X x rest (default 2)\n"
	      "      --chin-min UV      ...and at least UV above it (default 1)\n"
	      "      --chin-off FRAC    chin offset within FRAC of the onset "
	      "rise (0.5)\n"
	      "      --chin-off-time SEC  chin offset after SEC of rest (0.2)\n"
	      "      --phasic-ratio X   chin twitches reach X x rest (default 4)\n"
	      "      --min-burst SEC    shorter bursts are dropped (default 0.1)\n"
	      "      --twitch SEC       twitch below (default 0.5)\n"
	      "      --lm-max SEC       LM up to, spasm beyond (default 10)\n"
	      "      --bilateral SEC:SEC  merge legs closer than (0.5), up to "
	      "(15)\n"
	      "      --imi SEC:SEC      PLM intervals, onset to onset (10:90)\n"
	      "      --series N         LMs in a PLM series at least (4)\n"
	      "      --rmma SEC:SEC     RMMA burst durations (0.25:2)\n"
	      "      --rmma-tonic SEC   tonic bursts of mixed episodes up to "
	      "(10)\n"
	      "      --rmma-gap SEC     RMMA bursts closer than this join (2)\n"
	      "      --rmma-bursts N    bursts in an episode at least (3)\n"
	      "      --arousal-gap SEC  LM-arousal link within (0.5)\n"
	      "Any muscle (issue 18: every channel, --muscle ones only these):\n"
	      "      --muscle SEL[=NAME]  another muscle's channel(s), reported "
	      "as NAME;\n"
	      "                         repeatable; 'none': no guess from labels "
	      "(paraspinal,\n"
	      "                         trapezius, SCM, deltoid, FDS, "
	      "gastrocnemius/calf)\n"
	      "      --muscle-on UV     onset above rest (default 8, WASM's leg "
	      "rule)\n"
	      "      --muscle-ratio X   ...and at X x rest (default 2, AASM "
	      ">= 2x background)\n"
	      "      --muscle-off FRAC  offset also within FRAC of its level "
	      "(0.2, our choice)\n"
	      "      --muscle-pct P     rest percentile (default 10)\n"
	      "      --muscle-window SEC  ...of the last SEC (default 300), "
	      "held for --hold\n"
	      "      --spasm SEC        spasm from (default 10; twitch below "
	      "--twitch)\n"
	      "      --join SEC         muscles' contractions that overlap (or "
	      "< --bilateral's\n"
	      "                         gap) and start < SEC apart are one "
	      "event (default 3)\n"
	      "      --trace FILE       write each envelope value as text: "
	      "channel, time (s),\n"
	      "                         envelope and resting level (uV), for "
	      "plots\n"
	      "      --optional         no suitable channel: pass the stream "
	      "through, exit 0\n"
	      "      --threads N        2: filter on a second thread, ahead "
	      "of the detectors;\n"
	      "                         1: one thread (default 2; 1 in "
	      "psg-chain)\n"
	      "      --version          the version\n"
	      "  -h, --help             this help\n\n"
	      "Events: emg_bursts (kind twitch, lm, spasm, rmma, burst; one "
	      "per movement,\nhowever many legs), emg_channels (the legs of "
	      "one on several), plm_series;\nmuscle_events (twitch, burst, "
	      "spasm; one per movement however many muscles),\nmuscle_parts "
	      "(each muscle's contraction of one).\nExit: 0 ok, 1 usage, 2 bad stream, 3 no EMG "
	      "channel.\n", f);
}

/* "A:B" with 0 <= A < B. */
static void pair_arg(const char *opt, const char *arg, double *a, double *b)
{
	char *end;
	*a = strtod(arg, &end);
	if (*end != ':' && *end != '-')
		die(EXIT_USAGE, "%s wants A:B, not '%s'", opt, arg);
	*b = strtod(end + 1, &end);
	if (*end || !(*a >= 0) || !(*b > *a))
		die(EXIT_USAGE, "%s wants A:B with 0 <= A < B, not '%s'", opt,
		    arg);
}

static int mains_arg(const char *arg)
{
	if (!strcmp(arg, "auto"))
		return -1;
	if (!strcmp(arg, "none") || !strcmp(arg, "0"))
		return 0;
	if (!strcmp(arg, "50") || !strcmp(arg, "60"))
		return atoi(arg);
	die(EXIT_USAGE, "--mains wants 50, 60, 0 or auto, not '%s'", arg);
}

static void defaults(opts *o)
{
	*o = (opts){0};
	o->band_lo = 10, o->band_hi = 100, o->mains = -1, o->smooth = 0.1;
	o->on_uv = 8, o->off_uv = 2, o->off_s = 0.5, o->chin_off_s = 0.2;
	o->chin_ratio = 2, o->chin_min = 1, o->chin_off = 0.5, o->phasic = 4;
	o->min_burst = 0.1, o->twitch_max = 0.5, o->lm_max = 10;
	o->bilat_gap = 0.5, o->bilat_max = 15;
	o->imi_min = 10, o->imi_max = 90, o->series_min = 4;
	o->rmma_min = 0.25, o->rmma_max = 2, o->rmma_tonic = 10;
	o->rmma_gap = 2;
	o->rmma_bursts = 3;
	o->pct = 20, o->leg_win = 300, o->chin_win = 60, o->hold = 600;
	o->arousal_gap = 0.5;
	psg_muscle_defaults(&o->mo);
	o->spasm_s = 10, o->join = 3, o->mpct = o->mo.pct;
	/* In psg-chain every stage has a thread and the cores are busy. */
	o->threads = chain_self() ? 1 : 2;
}

static void parse_args(int argc, char **argv, opts *o)
{
	enum { O_LEGS = 256, O_CHIN, O_JAW, O_ECG, O_BAND, O_MAINS, O_SMOOTH,
	       O_PCT, O_LWIN, O_CWIN, O_ON, O_OFF, O_OFFT, O_CR, O_CM, O_MINB,
	       O_TW, O_LMMAX, O_BIL, O_IMI, O_SER, O_RMMA, O_RGAP, O_RB,
	       O_AGAP, O_COFFT, O_TRACE, O_PHASIC, O_TONIC, O_COFF, O_OPTIONAL,
	       O_HOLD, O_MUSCLE, O_MON, O_MRATIO, O_MWIN, O_MREL, O_SPASM,
	       O_JOIN, O_MPCT, O_THREADS };
	static const struct option lo[] = {{"legs", 1, 0, O_LEGS},
		{"chin", 1, 0, O_CHIN}, {"masseter", 1, 0, O_JAW},
		{"ecg", 1, 0, O_ECG}, {"band", 1, 0, O_BAND},
		{"mains", 1, 0, O_MAINS}, {"smooth", 1, 0, O_SMOOTH},
		{"baseline-pct", 1, 0, O_PCT}, {"leg-window", 1, 0, O_LWIN},
		{"hold", 1, 0, O_HOLD},
		{"chin-window", 1, 0, O_CWIN}, {"on", 1, 0, O_ON},
		{"off", 1, 0, O_OFF}, {"off-time", 1, 0, O_OFFT},
		{"chin-off-time", 1, 0, O_COFFT}, {"trace", 1, 0, O_TRACE},
		{"phasic-ratio", 1, 0, O_PHASIC}, {"rmma-tonic", 1, 0, O_TONIC},
		{"chin-off", 1, 0, O_COFF},
		{"chin-ratio", 1, 0, O_CR}, {"chin-min", 1, 0, O_CM},
		{"min-burst", 1, 0, O_MINB}, {"twitch", 1, 0, O_TW},
		{"lm-max", 1, 0, O_LMMAX}, {"bilateral", 1, 0, O_BIL},
		{"imi", 1, 0, O_IMI}, {"series", 1, 0, O_SER},
		{"rmma", 1, 0, O_RMMA}, {"rmma-gap", 1, 0, O_RGAP},
		{"rmma-bursts", 1, 0, O_RB}, {"arousal-gap", 1, 0, O_AGAP},
		{"optional", 0, 0, O_OPTIONAL}, {"muscle", 1, 0, O_MUSCLE},
		{"muscle-on", 1, 0, O_MON}, {"muscle-ratio", 1, 0, O_MRATIO},
		{"muscle-window", 1, 0, O_MWIN}, {"muscle-off", 1, 0, O_MREL},
		{"spasm", 1, 0, O_SPASM}, {"muscle-pct", 1, 0, O_MPCT}, {"join", 1, 0, O_JOIN},
		{"threads", 1, 0, O_THREADS}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	int c;
	defaults(o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case O_LEGS: o->legs = optarg; break;
		case O_CHIN: o->chin = optarg; break;
		case O_JAW: o->jaw = optarg; break;
		case O_ECG: o->ecg = optarg; break;
		case O_BAND: pair_arg("--band", optarg, &o->band_lo,
				      &o->band_hi);
			if (o->band_lo <= 0)
				die(EXIT_USAGE, "--band: LO above 0 Hz");
			break;
		case O_MAINS: o->mains = mains_arg(optarg); break;
		case O_SMOOTH: o->smooth = opt_num("--smooth", optarg, 0.01, 2);
			break;
		case O_PCT: o->pct = opt_num("--baseline-pct", optarg, 1, 50);
			break;
		case O_MPCT: o->mpct = opt_num("--muscle-pct", optarg, 1, 50);
			break;
		case O_LWIN: o->leg_win = opt_num("--leg-window", optarg, 10,
						  3600); break;
		case O_HOLD: o->hold = opt_num("--hold", optarg, 0, 86400);
			break;
		case O_CWIN: o->chin_win = opt_num("--chin-window", optarg, 10,
						   3600); break;
		case O_ON: o->on_uv = opt_num("--on", optarg, 0.1, 1e4); break;
		case O_OFF: o->off_uv = opt_num("--off", optarg, 0.01, 1e4);
			break;
		case O_OFFT: o->off_s = opt_num("--off-time", optarg, 0.05, 10);
			break;
		case O_COFF: o->chin_off = opt_num("--chin-off", optarg, 0.05,
						   0.95); break;
		case O_TONIC: o->rmma_tonic = opt_num("--rmma-tonic", optarg, 0,
						      600); break;
		case O_PHASIC: o->phasic = opt_num("--phasic-ratio", optarg, 1.1,
						   100); break;
		case O_TRACE: o->trace = optarg; break;
		case O_COFFT: o->chin_off_s = opt_num("--chin-off-time", optarg,
						      0.05, 10); break;
		case O_CR: o->chin_ratio = opt_num("--chin-ratio", optarg, 1.1,
						   100); break;
		case O_CM: o->chin_min = opt_num("--chin-min", optarg, 0.01,
						 1e4); break;
		case O_MINB: o->min_burst = opt_num("--min-burst", optarg, 0,
						    10); break;
		case O_TW: o->twitch_max = opt_num("--twitch", optarg, 0.05, 10);
			break;
		case O_LMMAX: o->lm_max = opt_num("--lm-max", optarg, 0.5, 600);
			break;
		case O_BIL: pair_arg("--bilateral", optarg, &o->bilat_gap,
				     &o->bilat_max); break;
		case O_IMI: pair_arg("--imi", optarg, &o->imi_min, &o->imi_max);
			break;
		case O_SER: o->series_min = (int)opt_num("--series", optarg, 2,
							 1000); break;
		case O_RMMA: pair_arg("--rmma", optarg, &o->rmma_min,
				      &o->rmma_max); break;
		case O_RGAP: o->rmma_gap = opt_num("--rmma-gap", optarg, 0.1,
						   60); break;
		case O_RB: o->rmma_bursts = (int)opt_num("--rmma-bursts", optarg,
							 2, NPEND); break;
		case O_AGAP: o->arousal_gap = opt_num("--arousal-gap", optarg,
						      0, 60); break;
		case O_OPTIONAL: o->optional = 1; break;
		case O_MUSCLE:
			if (o->nmuscle == MAXCH)
				die(EXIT_USAGE, "--muscle: at most %d", MAXCH);
			o->muscle[o->nmuscle++] = optarg;
			break;
		case O_MON: o->mo.on_uv = opt_num("--muscle-on", optarg, 0.1,
						  1e4); break;
		case O_MRATIO: o->mo.ratio = opt_num("--muscle-ratio", optarg, 1,
						     100); break;
		case O_MWIN: o->mo.window = opt_num("--muscle-window", optarg,
						    10, 3600); break;
		case O_MREL: o->mo.rel_off = opt_num("--muscle-off", optarg, 0,
						     0.9); break;
		case O_SPASM: o->spasm_s = opt_num("--spasm", optarg, 0.5,
						   3600); break;
		case O_JOIN: o->join = opt_num("--join", optarg, 0, 600); break;
		case O_THREADS: o->threads = (int)opt_num("--threads", optarg, 1,
							  2);
			if (o->threads != atof(optarg))
				die(EXIT_USAGE, "--threads wants 1 or 2, not "
				    "'%s'", optarg);
			break;
		case 'h': usage(stdout); exit(0);
		default: bad_option(c, argv);
		}
	}
	if (o->off_uv >= o->on_uv)
		die(EXIT_USAGE, "--off must be below --on");
	if (o->twitch_max > o->lm_max || o->twitch_max > o->spasm_s)
		die(EXIT_USAGE, "--twitch must not exceed --lm-max or --spasm");
	if (o->off_uv >= o->mo.on_uv)
		die(EXIT_USAGE, "--off must be below --muscle-on");
	/* The general rules share WASM's offset and the hold of the legs. */
	o->mo.off_uv = o->off_uv, o->mo.off_s = o->off_s;
	o->mo.min_s = o->min_burst, o->mo.hold = o->hold;
	o->mo.tone_s = o->spasm_s;
	o->mo.pct = o->mpct;
	no_operands(argc, argv);
}

/* ---- channels ---- */

/* The label table's name of a role (pipeline/roles.c). */
static const char *role_name(int role)
{
	return role == R_LEG ? PSG_ROLE_LEG : role == R_CHIN ? PSG_ROLE_CHIN :
	       role == R_JAW ? PSG_ROLE_MASSETER : PSG_ROLE_MUSCLE;
}

/* The amplitude of one digital step, uV (0 when the source has none). */
static double resolution(const psg_channel *c)
{
	if (c->dig_max <= c->dig_min)
		return 0;
	return (c->phys_max - c->phys_min) / ((double)c->dig_max - c->dig_min);
}

/* Adds channel ch with a role, unless it is unsuitable: its index in
   S->c (an earlier one when it is there already), else -1. */
static int add_channel(state *S, int ch, int role)
{
	const psg_channel *pc = &S->h->channels[ch];
	for (int i = 0; i < S->nch; i++)
		if (S->c[i].ch == ch)
			return i;
	/* The amplitude rules are of the whole band (WASM's 8 uV of 10-100
	   Hz): a channel must carry its top, rate >= 2 x top (Nyquist), which
	   for 10-100 Hz is also the AASM's minimal EMG rate of 200 Hz.  A
	   50-Hz chin holds 10-20 Hz only, and its envelope bursts are not
	   the muscle's (DREAMS excerpt 3's chin: 170 twitches an hour). */
	double rate = psg_channel_rate(pc);
	if (rate < 2 * S->o->band_hi) {
		warn("%s EMG '%s' at %g Hz cannot carry the %g-%g Hz band the "
		     "EMG rules need (%g Hz or more): left out",
		     role_name(role), pc->label, rate, S->o->band_lo,
		     S->o->band_hi, 2 * S->o->band_hi);
		return -1;
	}
	/* A step coarser than a quarter of the onset rise (2 uV for WASM's
	   8) turns quantisation into bursts: such a channel cannot be scored
	   (the Nox A1 export stores legs in 31-uV steps). */
	if (resolution(pc) > S->o->on_uv / 4) {
		warn("'%s' is recorded in steps of %.3g uV, too coarse for "
		     "%g-uV onsets: left out", pc->label, resolution(pc),
		     S->o->on_uv);
		return -1;
	}
	if (S->nch == MAXCH) {
		warn("more than %d EMG channels: '%s' left out", MAXCH,
		     S->h->channels[ch].label);
		return -1;
	}
	S->c[S->nch].ch = ch;
	snprintf(S->c[S->nch].name, sizeof S->c[S->nch].name, "%s", pc->label);
	S->c[S->nch].role = role;
	return S->nch++;
}

/* --muscle SEL[=NAME]: the channels of SEL, each reported as NAME (a
   selection of several gets NAME and its label); a leg, chin or masseter
   keeps its role and rules, and takes the name. */
static void pick_muscle(state *S, const psg_header *h, const char *arg)
{
	char sel[256], bad[PSG_LABEL_LEN];
	const char *eq = strchr(arg, '=');
	int idx[MAXCH], n;
	snprintf(sel, sizeof sel, "%.*s", eq ? (int)(eq - arg) : (int)strlen(arg),
		 arg);
	n = psg_select_channels(h, sel, idx, MAXCH, bad, sizeof bad);
	if (n <= 0)
		die_no_channel(h, n < 0 ? bad : sel);
	for (int i = 0; i < n; i++) {
		int k = add_channel(S, idx[i], R_MUSCLE);
		if (k < 0 || !eq || !eq[1])
			continue;
		char *name = S->c[k].name;
		if (n > 1)   /* one name for several: each keeps its label */
			snprintf(name, PSG_LABEL_LEN, "%.30s %.32s", eq + 1,
				 h->channels[idx[i]].label);
		else
			snprintf(name, PSG_LABEL_LEN, "%s", eq + 1);
	}
}

/* The channels of one role from an option, or from the labels. */
static void pick_role(state *S, const psg_header *h, const char *sel, int role)
{
	if (sel && !strcmp(sel, "none"))
		return;
	if (sel) {
		int idx[MAXCH], n;
		char bad[PSG_LABEL_LEN];
		n = psg_select_channels(h, sel, idx, MAXCH, bad, sizeof bad);
		if (n <= 0)
			die_no_channel(h, n < 0 ? bad : sel);
		for (int i = 0; i < n; i++)
			add_channel(S, idx[i], role);
		return;
	}
	if (role == R_CHIN) {                   /* one chin derivation */
		int i = psg_role_first(h, PSG_ROLE_CHIN);
		if (i >= 0)
			add_channel(S, i, role);
		return;
	}
	int idx[MAXCH + 1];
	int n = psg_role_channels(h, role_name(role), idx, MAXCH + 1);
	for (int i = 0; i < n; i++)
		add_channel(S, idx[i], role);
}

/* Whether an ECG can time the R peaks the bleed template is aligned on:
   the QRS's 5-25 Hz band, and a sample every tenth of a QRS (100 ms),
   so ECG_MIN_RATE; the AASM's minimal ECG rate is 200 Hz. */
static int ecg_usable(const psg_channel *c)
{
	double rate = psg_channel_rate(c);
	if (rate >= ECG_MIN_RATE)
		return 1;
	warn("ECG '%s' at %g Hz is too slow to time R peaks (5-25 Hz, %d Hz "
	     "or more): ECG bleed is not removed", c->label, rate,
	     ECG_MIN_RATE);
	return 0;
}

/* The ECG channel, or -1 (with a warning saying why). */
static int pick_ecg(const psg_header *h, const char *sel)
{
	if (sel && !strcmp(sel, "none"))
		return -1;
	if (sel) {
		int i = named_channel(h, sel);
		return ecg_usable(&h->channels[i]) ? i : -1;
	}
	int slow = -1;
	for (int i = 0; i < h->nchannels; i++) {
		const psg_channel *c = &h->channels[i];
		if (!psg_channel_has_role(c, PSG_ROLE_ECG))
			continue;
		if (psg_channel_rate(c) >= ECG_MIN_RATE)
			return i;
		if (slow < 0)
			slow = i;
	}
	if (slow >= 0)
		ecg_usable(&h->channels[slow]);   /* says why it is not used */
	else
		warn("no ECG channel: ECG bleed is not removed");
	return -1;
}

/* ---- filters ---- */

static double *design(const psg_fir_spec *s, double rate, int *n,
		      const char *label)
{
	double *taps;
	char msg[256];
	if (psg_fir_design(s, rate, &taps, n, msg, sizeof msg))
		die(EXIT_UNSUITABLE, "'%s' at %g Hz: %s", label, rate, msg);
	return taps;
}

/* Convolves the design of s into *taps (a cascade). */
static void cascade(double **taps, int *n, const psg_fir_spec *s, double rate,
		    const char *label)
{
	int m, k;
	double *b = design(s, rate, &m, label), *c;
	if (psg_fir_cascade(*taps, *n, b, m, &c, &k))
		die(EXIT_IO, "out of memory");
	free(*taps);
	free(b);
	*taps = c, *n = k;
}

static double *emg_taps(const opts *o, double rate, const char *label,
			int *ntaps)
{
	double hi = fmin(o->band_hi, 0.4 * rate);
	psg_fir_spec bp = {PSG_FIR_BANDPASS, o->band_lo, hi, 0, 0, 0};
	int n;
	if (hi <= o->band_lo)
		die(EXIT_UNSUITABLE, "'%s': %g Hz is too slow for EMG above "
		    "%g Hz", label, rate, o->band_lo);
	double *taps = design(&bp, rate, &n, label);
	for (int f = 50; f <= 60; f += 10) {
		if (o->mains != -1 && o->mains != f)
			continue;
		/* The mains and, inside the band, its second harmonic. */
		int harm = 2 * f + 2 < rate / 2 && 2 * f < hi + 10 ? 2 : 1;
		psg_fir_spec nt = {PSG_FIR_NOTCH, f, 0, NOTCH_TR, 0, harm};
		if (f + 2 < rate / 2)
			cascade(&taps, &n, &nt, rate, label);
	}
	*ntaps = n;
	return taps;
}

/* The EMG filter at the rate: designed once per rate, as channels mostly
   share theirs (the cascade is most of psg-emg's set-up after FFTW's
   planning, which libpsg does once per size). */
static psg_filter *emg_filter(state *S, double rate, const char *label)
{
	int i = 0, st;
	while (i < S->ntaps && S->taps[i].rate != rate)
		i++;
	if (i == S->ntaps) {        /* at most one per channel */
		S->taps[i].v = emg_taps(S->o, rate, label, &S->taps[i].n);
		S->taps[i].rate = rate, S->ntaps++;
	}
	psg_filter *f = psg_filter_new(S->taps[i].v, S->taps[i].n, &st);
	if (!f)
		die(EXIT_IO, "filter: %s", psg_strerror(st));
	return f;
}

/* ---- events ---- */

static void write_event(psg_writer *w, psg_event *e)
{
	if (psg_write_event(w, e))
		die(EXIT_IO, "%s", psg_writer_errmsg(w));
}

/* Writes one emg_bursts row; its id is its number, from 1. */
static int64_t emit(state *S, psg_writer *w, const row *r, double sleep)
{
	const burst *b = &r->b;
	double v[11] = {r->kind, b->peak, b->mean, b->base, r->bilateral,
		       r->series, r->arousal, r->bursts, sleep,
		       (double)++S->nid, r->channels};
	psg_event e = {.type = S->ev_type, .channel = b->ch,
		.onset = llround(b->on * PSG_TICKS_PER_SEC),
		.duration = llround((b->off - b->on) * PSG_TICKS_PER_SEC),
		.label = KIND_NAME(r->kind), .nvalues = 11, .values = v};
	write_event(w, &e);
	return S->nid;
}

/* 1 sleep, 0 wake, -1 not known at t (psg-wake's calls, else the
   hypnogram's stages). */
static int sleep_at(const state *S, double t)
{
	if (S->nwake) {
		double len = (double)S->h->epoch_len / PSG_TICKS_PER_SEC;
		double org = (double)S->h->epoch_origin / PSG_TICKS_PER_SEC;
		double e = floor((t - org) / len);
		if (e < 0 || e >= (double)S->nwake)
			return -1;
		int v = S->wake[(size_t)e];
		return v == 0 ? 1 : v == 1 ? 0 : -1;
	}
	for (size_t i = S->nruns; i-- > 0;)
		if (t >= S->runs[i].on && t < S->runs[i].off) {
			int s = S->runs[i].stage;
			return s == PSG_STAGE_W ? 0 : s > PSG_STAGE_W ? 1 : -1;
		}
	return -1;
}

static double sleep_field(const state *S, double t)
{
	int s = sleep_at(S, t);
	return s < 0 ? NAN : s;
}

/* A row found while streaming.  psg-wake decides its calls at END, so
   with its `wake` epochs in the stream the row waits for them: its
   sleep state would be unknown now. */
static void report(state *S, psg_writer *w, const row *r)
{
	if (S->f_wake < 0) {
		emit(S, w, r, sleep_field(S, r->b.on));
		return;
	}
	S->rows = grow(S->rows, &S->rowcap, S->nrows, sizeof *S->rows);
	S->rows[S->nrows++] = *r;
}

static int cmp_row(const void *a, const void *b)
{
	double x = ((const row *)a)->b.on, y = ((const row *)b)->b.on;
	return (x > y) - (x < y);
}

static void report_held(state *S, psg_writer *w)
{
	if (!S->nrows)
		return;
	qsort(S->rows, S->nrows, sizeof *S->rows, cmp_row);
	for (size_t i = 0; i < S->nrows; i++)
		emit(S, w, &S->rows[i], sleep_field(S, S->rows[i].b.on));
	S->nrows = 0;
}

static int rem_at(const state *S, double t)
{
	for (size_t i = S->nruns; i-- > 0;)
		if (t >= S->runs[i].on && t < S->runs[i].off)
			return S->runs[i].stage == PSG_STAGE_R;
	return 0;
}

static void hold(state *S, const burst *b, int kind)
{
	S->lm = grow(S->lm, &S->lmcap, S->nlm, sizeof *S->lm);
	S->lm[S->nlm++] = (held){b->on, b->off, (float)b->peak, (float)b->mean,
		(float)b->base, (int16_t)b->ch, (int8_t)kind, 0, -1, -1, 1, 0};
}

/* ---- chin and masseter events wait until no channel can change them ---- */

static void jaw_add(state *S, const burst *b, int kind, int bursts)
{
	S->jaw = grow(S->jaw, &S->jawcap, S->njaw, sizeof *S->jaw);
	S->jaw[S->njaw++] = (jawev){*b, kind, bursts};
}

/* A chin or masseter burst outside a bruxism episode.  Longer activity
   is tone (an arousal's, wake's), not a cramp: a burst, whatever its
   length.  A twitch must reach 4x the rest (AASM transient muscle
   activity): the 2x that starts a burst also catches the tone's rises. */
static void chin_single(state *S, const burst *b)
{
	int kind = b->off - b->on < S->o->twitch_max ? K_TWITCH : K_BURST;
	if (kind == K_TWITCH && b->peak < (S->o->phasic - 1) * b->base)
		return;
	jaw_add(S, b, kind, 1);
}

static void jaw_emit(state *S, const jawev *e, psg_writer *w)
{
	S->n_twitch += e->kind == K_TWITCH;
	S->n_rmma += e->kind == K_RMMA;
	if (e->kind != K_RMMA && rem_at(S, e->b.on))
		S->rem_bursts++;
	if (e->kind != K_RMMA && !S->nruns && S->f_stage >= 0) {
		S->bon = grow(S->bon, &S->boncap, S->nbon, sizeof *S->bon);
		S->bon[S->nbon++] = e->b.on;
	}
	row r = {e->b, e->kind, 0, e->bursts, 1, 0, NAN};
	report(S, w, &r);
}

static int cmp_jaw(const void *a, const void *b)
{
	double x = ((const jawev *)a)->b.on, y = ((const jawev *)b)->b.on;
	return (x > y) - (x < y);
}

/* One bruxism episode seen on the chin and a masseter is one: RMMA
   events that overlap merge, and other bursts inside them are theirs. */
static void absorb(state *S, size_t i)
{
	jawev *e = &S->jaw[i];
	for (size_t j = i + 1; j < S->njaw && S->jaw[j].b.on < e->b.off; j++) {
		jawev *x = &S->jaw[j];
		if (x->kind == K_RMMA) {
			e->b.off = fmax(e->b.off, x->b.off);
			e->b.peak = fmax(e->b.peak, x->b.peak);
			e->bursts = e->bursts > x->bursts ? e->bursts : x->bursts;
		}
		x->kind = 0;
	}
}

static int in_rmma(const state *S, const jawev *e, size_t k, size_t i)
{
	for (size_t j = 0; j < S->njaw; j++) {
		const jawev *x = &S->jaw[j];
		if ((j < k || j > i) && x->kind == K_RMMA &&
		    x->b.on < e->b.off && e->b.on < x->b.off)
			return 1;
	}
	return 0;
}

/* Emits the held chin and masseter events that end before upto, the
   earliest time at which a channel could still start one. */
static void jaw_flush(state *S, double upto, psg_writer *w)
{
	size_t k = 0;
	if (!S->njaw)
		return;
	sort_n(S->jaw, S->njaw, sizeof *S->jaw, cmp_jaw);
	for (size_t i = 0; i < S->njaw; i++) {
		jawev *e = &S->jaw[i];
		if (!e->kind)
			continue;
		if (e->b.off >= upto) {
			S->jaw[k++] = *e;
			continue;
		}
		if (e->kind == K_RMMA)
			absorb(S, i);
		if (e->kind == K_RMMA || !in_rmma(S, e, k, i))
			jaw_emit(S, e, w);
	}
	S->njaw = k;
}

/* The earliest onset a chin or masseter channel may still report. */
static double jaw_upto(const state *S)
{
	double t = INFINITY;
	for (int i = 0; i < S->nch; i++) {
		const emgch *c = &S->c[i];
		if (c->role != R_CHIN && c->role != R_JAW)
			continue;
		t = fmin(t, c->now);
		if (c->in)
			t = fmin(t, c->on);
		if (c->npend)
			t = fmin(t, c->pend[0].on);
	}
	return t;
}

/* The gathered chin bursts: one RMMA episode when there are enough,
   else each on its own. */
static void flush_rmma(state *S, emgch *c)
{
	int phasic = 0;
	for (int i = 0; i < c->npend; i++) {
		double d = c->pend[i].off - c->pend[i].on;
		phasic += d >= S->o->twitch_max && d <= S->o->rmma_max;
	}
	/* Lavigne's phasic and mixed episodes: >= 3 bursts, at least one of
	   them phasic and longer than a twitch (0.5-2 s: a run of twitch-
	   length bursts is a cluster of REM twitches); tonic ones (two
	   phasic bursts closer than the offset rule can split, or
	   clenching) up to --rmma-tonic. */
	if (c->npend >= S->o->rmma_bursts && phasic) {
		burst e = c->pend[0];
		double sum = 0, len = 0;
		for (int i = 0; i < c->npend; i++) {
			const burst *b = &c->pend[i];
			e.peak = fmax(e.peak, b->peak);
			sum += b->mean * (b->off - b->on), len += b->off - b->on;
		}
		e.off = c->pend[c->npend - 1].off;
		e.mean = sum / len;
		jaw_add(S, &e, K_RMMA, c->npend);
	} else {
		for (int i = 0; i < c->npend; i++)
			chin_single(S, &c->pend[i]);
	}
	c->npend = 0;
}

static void burst_done(state *S, emgch *c, burst *b, psg_writer *w)
{
	const opts *o = S->o;
	double d = b->off - b->on;
	if (d < o->min_burst)
		return;
	if (c->role == R_LEG) {
		if (d < o->twitch_max) {
			S->n_twitch++;
			row r = {*b, K_TWITCH, 0, 1, 1, 0, NAN};
			report(S, w, &r);
		} else {   /* at END: series, and one event for several legs */
			hold(S, b, d <= o->lm_max ? K_LM : K_SPASM);
		}
		return;
	}
	/* Bruxism bursts are elevations of >= 2x the rest as a whole (their
	   mean), not a tone's fluctuation that crosses 2x for a moment. */
	int cand = d >= o->rmma_min && d <= fmax(o->rmma_max, o->rmma_tonic) &&
		   b->mean >= (o->chin_ratio - 1) * b->base;
	if (c->npend && (!cand || b->on - c->pend[c->npend - 1].off >=
			 o->rmma_gap || c->npend == NPEND))
		flush_rmma(S, c);
	if (cand)
		c->pend[c->npend++] = *b;
	else
		chin_single(S, b);
}

/* ---- the detector: one envelope value e at t with resting level b ---- */

static void detect(state *S, emgch *c, double t, double e, psg_writer *w)
{
	const opts *o = S->o;
	double b = c->rest;
	/* A leg's rest does not rise while a burst lasts (up to --hold): a
	   contraction longer than 80 % of the window would become its own
	   rest and end early, a 5-min cramp coming out as two spasms and LMs
	   between.  The chin's and masseter's rest follows their tone, which
	   changes with the sleep stage (REM to N2 is 4x), so it is not held. */
	if (c->in && c->role == R_LEG && !isnan(b) && t - c->on < o->hold)
		b = fmin(b, c->b_on);
	if (S->trace)
		fprintf(S->trace, "%d\t%.3f\t%.3f\t%.3f\n", c->ch, t, e, b);
	/* A new second (floor(t) != floor(now), without a floor a value). */
	if (c->role != R_LEG && !(t >= c->now_sec && t < c->now_sec + 1)) {
		c->now = t, c->now_sec = floor(t);
		jaw_flush(S, jaw_upto(S), w);
	}
	c->now = t;
	if (isnan(b))
		return;
	c->base_sum += b, c->base_n++;
	if (c->role != R_LEG && c->npend && !c->in &&
	    t - c->pend[c->npend - 1].off >= o->rmma_gap)
		flush_rmma(S, c);
	double rise = c->rise, x = e - b;
	if (!c->in) {
		if (x < rise)
			return;
		c->in = 1, c->on = t, c->b_on = b;
		c->peak = x, c->sum = 0, c->n = 0, c->qsum = 0, c->qwn = 0;
	}
	c->sum += x, c->n++;
	if (x > c->peak || isnan(c->peak))     /* fmax's answer, inline */
		c->peak = x;
	c->last_t = t;
	if (c->qwn == c->W)
		c->qsum -= c->qw[c->qwi];
	else
		c->qwn++;
	c->qw[c->qwi] = (float)x;
	c->qsum += x;
	c->qwi = (c->qwi + 1) % c->W;
	/* Legs: WASM's 2 of 8 uV.  The chin's rise is often 1 uV in REM,
	   where a quarter of it is within the filters' ringing after a
	   twitch: half of it there. */
	double off = c->role == R_LEG ? o->off_uv / o->on_uv : o->chin_off;
	if (c->qwn < c->W || c->qsum / c->W > rise * off)
		return;
	for (int i = 0; i < c->W; i++)
		if (c->qw[i] > rise * 2 * off)
			return;
	/* Rest for off_s: the burst ended where that rest began. */
	burst bu = {c->on, t - (c->W - 1) / c->env_rate, c->peak,
		    c->n > c->W ? (c->sum - c->qsum) / (double)(c->n - c->W) :
		    c->peak, c->b_on, c->ch};
	c->in = 0;
	burst_done(S, c, &bu, w);
}

/* A segment ends inside a burst: it ends there too. */
static void detect_close(state *S, emgch *c, psg_writer *w)
{
	if (c->in) {
		burst bu = {c->on, c->last_t, c->peak, c->n ? c->sum / c->n : 0,
			    c->b_on, c->ch};
		c->in = 0;
		burst_done(S, c, &bu, w);
	}
	if (c->npend)
		flush_rmma(S, c);
}

/* ---- REM atonia (Ferri 2008, 2010) on the first chin ---- */

/* Without imported REM, a second's class waits for psg-stage's calls. */
static void defer_second(state *S, int64_t sec, double v)
{
	if (sec < 0 || sec > (INT64_C(1) << 31))
		return;
	while ((size_t)sec >= S->ncls) {
		S->cls = grow(S->cls, &S->clscap, S->ncls, 1);
		S->cls[S->ncls++] = 0;
	}
	S->cls[sec] = (unsigned char)(v <= 1 ? 1 : v <= 2 ? 2 : 3);
}

/* psg-stage's stage at time t (s), -1 none. */
static int computed_at(const state *S, double t)
{
	double len = (double)S->h->epoch_len / PSG_TICKS_PER_SEC;
	double e = floor((t - (double)S->h->epoch_origin /
			  PSG_TICKS_PER_SEC) / len);
	return e >= 0 && e < (double)S->nstg ? S->stg[(size_t)e] : -1;
}

/* At END, with no imported REM: the atonia index and phasic density
   over psg-stage's R epochs. */
static void computed_rem(state *S)
{
	if (S->nruns || !S->nstg)
		return;
	for (size_t s = 0; s < S->ncls; s++) {
		if (!S->cls[s] || computed_at(S, (double)s + 0.5) !=
		    PSG_STAGE_R)
			continue;
		S->rem_s++;
		S->ai_le1 += S->cls[s] == 1;
		S->ai_1to2 += S->cls[s] == 2;
	}
	for (size_t i = 0; i < S->nbon; i++)
		S->rem_bursts += computed_at(S, S->bon[i]) == PSG_STAGE_R;
}

static void mini_eval(state *S, int i)
{
	double m = INFINITY;
	for (int j = 0; j < S->nmini; j++)
		if (llabs(S->mini_s[j] - S->mini_s[i]) <= MINI / 2)
			m = fmin(m, S->mini_v[j]);
	S->last_eval = S->mini_s[i];
	double v = S->mini_v[i] - m;
	if (!S->nruns && S->f_stage >= 0)
		defer_second(S, S->mini_s[i], v);
	if (!rem_at(S, (double)S->mini_s[i] + 0.5))
		return;
	S->rem_s++;
	S->ai_le1 += v <= 1;
	S->ai_1to2 += v > 1 && v <= 2;
}

static void mini_push(state *S, int64_t sec, double v)
{
	if (S->nmini == MINI) {
		memmove(S->mini_v, S->mini_v + 1, (MINI - 1) * sizeof *S->mini_v);
		memmove(S->mini_s, S->mini_s + 1, (MINI - 1) * sizeof *S->mini_s);
		S->nmini--;
	}
	S->mini_v[S->nmini] = v, S->mini_s[S->nmini++] = sec;
	/* The one 30 s back now has its whole window. */
	for (int i = 0; i < S->nmini; i++)
		if (S->mini_s[i] > S->last_eval && S->mini_s[i] + MINI / 2 <= sec)
			mini_eval(S, i);
}

static void mini_flush(state *S)
{
	if (S->cur_n)
		mini_push(S, S->cur_sec, S->cur_sum / S->cur_n);
	for (int i = 0; i < S->nmini; i++)
		if (S->mini_s[i] > S->last_eval)
			mini_eval(S, i);
	S->nmini = 0, S->cur_n = 0, S->cur_sum = 0;
}

static void atonia(state *S, double t, double e)
{
	int64_t sec = (int64_t)floor(t);
	if (sec != S->cur_sec && S->cur_n) {
		mini_push(S, S->cur_sec, S->cur_sum / S->cur_n);
		S->cur_n = 0, S->cur_sum = 0;
	}
	S->cur_sec = sec;
	S->cur_sum += e, S->cur_n++;
}

/* ---- envelope ---- */

/* The rise over the rest that starts a burst: WASM's 8 uV on legs; on
   the chin twice the rest (AASM bruxism), whose tone changes with stage.
   Kept with the rest, which changes once per 0.5-s block, not per value. */
static double rise_over(const opts *o, int role, double rest)
{
	return role == R_LEG ? o->on_uv :
	       fmax(o->chin_min, (o->chin_ratio - 1) * rest);
}

/* One envelope value: into the baseline's window, and through the
   look-ahead queue to the detector, which sees the rest centred on it. */
static void env_push(state *S, emgch *c, double t, float e, psg_writer *w)
{
	psg_contraction k;
	if (psg_muscle_push(c->mus, t, e, &k))
		muscle_add(S, c, &k);
	if (t >= S->m_tick && !S->m_hold) {     /* once a second */
		m_flush(S, w, m_upto(S));
		S->m_tick = floor(t) + 1;
	}
	if (c->role == R_MUSCLE) {      /* the general rules only */
		double rest = psg_muscle_rest(c->mus);
		if (!isnan(rest))
			c->base_sum += rest, c->base_n++;
		return;
	}
	if (c - S->c == S->aton)
		atonia(S, t, e);
	c->bsum += e;
	if (++c->bn == c->blen) {
		psg_pctl_push(c->base, (float)(c->bsum / c->blen));
		c->rest = psg_pctl_get(c->base, S->o->pct);
		c->rise = rise_over(S->o, c->role, c->rest);
		c->bsum = 0, c->bn = 0;
	}
	if (c->eqn == c->eqcap) {
		detect(S, c, c->et[c->eqh], c->ev[c->eqh], w);
		if (++c->eqh == c->eqcap)
			c->eqh = 0;
		c->eqn--;
	}
	int j = c->eqh + c->eqn++;
	j -= j >= c->eqcap ? c->eqcap : 0;
	c->et[j] = t, c->ev[j] = e;
}

static void env_flush(state *S, emgch *c, psg_writer *w)
{
	psg_contraction k;
	if (psg_muscle_end(c->mus, &k))
		muscle_add(S, c, &k);
	for (; c->eqn; c->eqn--, c->eqh = (c->eqh + 1) % c->eqcap)
		detect(S, c, c->et[c->eqh], c->ev[c->eqh], w);
	detect_close(S, c, w);
	if (c - S->c == S->aton)
		mini_flush(S);
	c->eqh = 0, c->nbox = 0, c->boxi = 0, c->boxsum = 0, c->stepi = 0;
	memset(c->box, 0, (size_t)c->boxlen * sizeof *c->box);
	c->bn = 0, c->bsum = 0;
	psg_pctl_reset(c->base);
	c->rest = NAN;
}

/* The values |y[0..n)| into the box from *b on (n not past its end):
   into the sum, and over the oldest. */
static double box_add(float *b, const float *y, int n, double sum)
{
	for (int i = 0; i < n; i++) {
		float r = fabsf(y[i]);
		sum -= b[i];            /* an empty place holds 0: sum - 0 */
		b[i] = r;
		sum += r;
	}
	return sum;
}

/* Conditioned samples y[0..n) at tick[0..n): rectified, averaged over
   the box, decimated (a time in seconds only at each envelope value).
   The samples go into the box a stretch at a time, each stretch ending
   at the next envelope value or at the box's end, so the loop over a
   stretch tests nothing. */
static void env_feed(state *S, emgch *c, const int64_t *tick,
		     const float *y, size_t n, psg_writer *w)
{
	const int boxlen = c->boxlen, step = c->step;
	double half = (boxlen - 1) / (2 * c->rate);
	size_t j = 0;
	while (j < n) {
		/* the next value: a step on, and the box full (the first
		   comes when it fills, the step counted on meanwhile) */
		int k = step - c->stepi, fill = boxlen - c->nbox;
		int room = boxlen - c->boxi;
		k = k > fill ? k : fill;
		k = k < room ? k : room;
		k = (size_t)k < n - j ? k : (int)(n - j);
		c->boxsum = box_add(c->box + c->boxi, y + j, k, c->boxsum);
		j += (size_t)k;
		c->nbox += k < fill ? k : fill;
		c->stepi += k;
		if ((c->boxi += k) == boxlen)
			c->boxi = 0;
		if (c->stepi < step || c->nbox < boxlen)
			continue;
		c->stepi = 0;
		env_push(S, c, (double)tick[j - 1] / PSG_TICKS_PER_SEC - half,
			 (float)(c->boxsum / boxlen), w);
	}
}

/* ---- ECG bleed ---- */

/* The median of n <= NBEAT values, v reordered (the beats' residuals,
   once a beat): an insertion sort. */
static float median_small(float *v, int n)
{
	for (int i = 1; i < n; i++) {
		float x = v[i];
		int j = i;
		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
	return v[n / 2];
}

/* The template's median, kept for every template sample at once.  Each
   beat replaces one value of every sample's NBEAT (its oldest) by the
   new beat's, so each sample keeps its history sorted: slot k of
   sample i is srt[k * tstride + i] (slot-major, so that LANES samples
   move side by side), unused slots and slot NBEAT hold +inf.  Dropping
   out from a sorted s gives a[k] = s[k] < out ? s[k] : s[k + 1], and
   inserting in gives max(a[k - 1], min(a[k], in)): no search and no
   branch on the data, where the sample-by-sample insertion's branches
   followed the data and were psg-emg's largest cost (27 % of its time
   on the 8-h night).  Values equal as floats are kept in either order:
   only a zero's sign could differ, and the median is only ever
   subtracted before a fabs or a square.  LANES samples at a time in
   GCC's (and clang's) vector types: SSE on x86-64, NEON on ARM. */
#define LANES 4
typedef float vfloat __attribute__((vector_size(LANES * sizeof(float))));
typedef int32_t vmask __attribute__((vector_size(LANES * sizeof(float))));

static vfloat vload(const float *p)
{
	vfloat v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* m ? a : b, lane by lane (m from a comparison: all ones or zero). */
static vfloat vsel(vmask m, vfloat a, vfloat b)
{
	return (vfloat)((m & (vmask)a) | (~m & (vmask)b));
}

/* a < b ? a : b and a > b ? a : b: one instruction each on x86-64 (its
   minps and maxps are exactly these), where the selects take four. */
static vfloat vmin(vfloat a, vfloat b)
{
#ifdef __SSE__
	return (vfloat)_mm_min_ps((__m128)a, (__m128)b);
#else
	return vsel(a < b, a, b);
#endif
}

static vfloat vmax(vfloat a, vfloat b)
{
#ifdef __SSE__
	return (vfloat)_mm_max_ps((__m128)a, (__m128)b);
#else
	return vsel(a > b, a, b);
#endif
}

/* The same on x86-64 with AVX2, WIDE lanes at a time: half the steps
   (the template's median was about a tenth of the detectors' thread). */
#define WIDE 8
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_WIDE 1
typedef float wfloat __attribute__((vector_size(WIDE * sizeof(float))));

__attribute__((target("avx2")))
static void template_swap_wide(emgch *c, const float *out, int count)
{
	size_t ts = (size_t)c->tstride;
	const wfloat inf = (wfloat){0} + INFINITY;
	for (size_t i0 = 0; i0 < ts; i0 += WIDE) {
		wfloat prev = -inf, o = inf, in, sk, s1;
		if (out)
			memcpy(&o, out + i0, sizeof o);
		memcpy(&in, c->cap + i0, sizeof in);
		for (int k = 0; k < NBEAT; k++) {
			float *s = c->srt + k * ts + i0;
			memcpy(&sk, s, sizeof sk);
			memcpy(&s1, s + ts, sizeof s1);
			wfloat a = (wfloat)_mm256_blendv_ps((__m256)s1,
				(__m256)sk, _mm256_cmp_ps((__m256)sk,
							  (__m256)o, _CMP_LT_OQ));
			wfloat v = (wfloat)_mm256_max_ps((__m256)prev,
				_mm256_min_ps((__m256)a, (__m256)in));
			memcpy(s, &v, sizeof v);
			prev = a;
		}
		memcpy(c->med + i0, c->srt + (size_t)(count / 2) * ts + i0,
		       sizeof(wfloat));
	}
}

static int wide_ok(void)
{
	return __builtin_cpu_supports("avx2");
}
#else
#define HAVE_WIDE 0
static void template_swap_wide(emgch *c, const float *out, int count)
{
	(void)c, (void)out, (void)count;
}

static int wide_ok(void)
{
	return 0;
}
#endif

static void template_swap(emgch *c, const float *out, int count)
{
	if (HAVE_WIDE && c->wide) {
		template_swap_wide(c, out, count);
		return;
	}
	size_t ts = (size_t)c->tstride;
	const vfloat inf = (vfloat){0} + INFINITY;
	for (size_t i0 = 0; i0 < ts; i0 += LANES) {
		vfloat prev = -inf, o = out ? vload(out + i0) : inf;
		vfloat in = vload(c->cap + i0);
		for (int k = 0; k < NBEAT; k++) {
			float *s = c->srt + k * ts + i0;
			vfloat sk = vload(s), a = vsel(sk < o, sk, vload(s + ts));
			vfloat v = vmax(prev, vmin(a, in));
			memcpy(s, &v, sizeof v);
			prev = a;
		}
		memcpy(c->med + i0, c->srt + (size_t)(count / 2) * ts + i0,
		       sizeof(vfloat));
	}
}

/* The captured beat's squared distance from the template (zero until a
   beat joins it): four sums side by side, for their additions to overlap
   (one sum waited on each addition before the next).  The order of the
   additions differs from one sum's, so the last bits can; the residual
   only decides whether a beat is far noisier than usual (3x). */
static double residual(const emgch *c)
{
	double acc[4] = {0, 0, 0, 0};
	int i = 0;
	for (; i + 4 <= c->tlen; i += 4)
		for (int l = 0; l < 4; l++) {
			double d = c->cap[i + l] - c->med[i + l];
			acc[l] += d * d;
		}
	for (; i < c->tlen; i++) {
		double d = c->cap[i] - c->med[i];
		acc[0] += d * d;
	}
	return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/* The captured beat joins the template unless it is far noisier than
   the usual residual (a burst): the median of the last NBEAT. */
static void beat_done(emgch *c)
{
	if (c->capn != c->tlen)
		return;
	double res = sqrt(residual(c) / c->tlen);
	if (c->nhist >= 5) {
		float r[NBEAT];
		memcpy(r, c->res, sizeof r);
		if (res > 3 * median_small(r, c->nhist))
			return;
	}
	float *old = c->hist + (size_t)c->hnext * c->tstride;
	template_swap(c, c->nhist == NBEAT ? old : NULL,
		      c->nhist == NBEAT ? NBEAT : c->nhist + 1);
	memcpy(old, c->cap, (size_t)c->tstride * sizeof *c->cap);
	c->res[c->hnext] = (float)res;
	c->hnext = (c->hnext + 1) % NBEAT;
	if (c->nhist < NBEAT)
		c->nhist++;
}

/* A sample's place in the template of the beat at r: from its own
   time, never by counting (a rate whose period is not a whole number of
   ticks can skip or repeat a place). */
static long place(int64_t tick, double r, double rate)
{
	return lround_fast(((double)tick / PSG_TICKS_PER_SEC - r) * rate);
}

/* The first of tick[j..n) whose place in the beat at r is at least u:
   places only grow with time, so the samples before a beat's window are
   passed by a search, not each placed. */
static size_t first_place(const int64_t *tick, size_t j, size_t n, double r,
			  double rate, long u)
{
	while (j < n) {
		size_t mid = j + (n - j) / 2;
		if (place(tick[mid], r, rate) < u)
			j = mid + 1;
		else
			n = mid;
	}
	return j;
}

/* Samples x[0..m) at places u, u + 1, ... of the beat (from its start):
   those inside the template captured for it, and its median taken off,
   a stretch at a time (a copy and a subtraction: vector instructions,
   where a sample at a time tested its place for each). */
static void unbleed_run(emgch *c, float *x, long u, long m, int sub,
			int *capn)
{
	long a = u < 0 ? -u : 0, b = c->tlen - u < m ? c->tlen - u : m;
	if (a >= b)
		return;
	float *restrict y = x + a;
	const float *restrict med = c->med + (u + a);
	size_t n = (size_t)(b - a);
	memcpy(c->cap + (u + a), y, n * sizeof *y);
	*capn += (int)n;
	if (!sub)
		return;
	size_t i = 0;
	for (; i + LANES <= n; i += LANES) {
		vfloat v = vload(y + i) - vload(med + i);
		memcpy(y + i, &v, sizeof v);
	}
	for (; i < n; i++)
		y[i] -= med[i];
}

/* Consecutive samples' places count up by one as long as none of them
   comes near a rounding edge: a step between two samples' times is one
   period at the rate give or take a tick (the clock rounds each time to
   a tick), so over m steps x = (t - r) * rate strays at most m * rate
   ticks' worth (plus the rounding of x itself) from counting.  How many
   of the next m samples' places are known by counting from x: m, or 0
   when one of them could round otherwise (then each is placed from its
   own time). */
static long countable(double x, double rate, long m)
{
	double f = x - floor(x);
	double stray = (double)m * (rate / PSG_TICKS_PER_SEC) + 1e-6;
	return fabs(f - 0.5) > stray && m < (1L << 20) ? m : 0;
}

/* The samples x[0..n) at tick[0..n), in place, with the bleed of the
   beat around each removed, beat by beat: only the samples inside a
   beat's window are placed and touched, and within it places are
   counted where counting provably gives the same place as the sample's
   own time (countable). */
static void unbleed(state *S, emgch *c, const int64_t *tick, float *x,
		    size_t n)
{
	size_t j = 0;
	if (S->ecg >= 0 && S->nr > RCAP && c->beat < S->nr - RCAP)
		c->beat = S->nr - RCAP, c->capn = 0;
	while (S->ecg >= 0 && j < n && c->beat < S->nr) {
		double r = S->r[c->beat % RCAP], rate = c->rate;
		long pre = c->pre, post = c->post;
		int sub = c->nhist >= 3, capn = c->capn;
		for (j = first_place(tick, j, n, r, rate, -pre); j < n;) {
			double p = ((double)tick[j] / PSG_TICKS_PER_SEC - r) *
				   rate;
			long u = lround_fast(p), m;
			if (u > post)
				break;
			m = post - u + 1;
			m = (size_t)m < n - j ? m : (long)(n - j);
			if (!(m = countable(p, rate, m)))
				m = 1;          /* by its own time */
			unbleed_run(c, x + j, u + pre, m, sub, &capn);
			j += (size_t)m;
		}
		c->capn = capn;
		if (j < n) {            /* past this beat: the next one */
			beat_done(c);
			c->capn = 0;
			c->beat++;
		}
	}
}

/* R peaks: |5-25 Hz ECG| above 0.4 x the median of the last 8 seconds'
   maxima, at least 0.25 s apart; the peak is taken 0.1 s after it was
   last exceeded and refined by a parabola through its neighbours. */
static void qrs_done(ecgdet *S, double dt)
{
	double a = S->q_before, b = S->q_peak, c = S->q_after;
	double den = a - 2 * b + c, shift = den < 0 ? 0.5 * (a - c) / den : 0;
	if (S->nmsg == S->msgcap) {
		size_t cap = 2 * S->msgcap;
		double *m = realloc(S->msg, cap * sizeof *m);
		if (!m) {
			S->nomem = 1;
			return;
		}
		S->msg = m, S->msgcap = cap;
	}
	S->msg[S->nmsg++] = S->q_t + fmax(-0.5, fmin(0.5, shift)) * dt;
	S->last_r = S->q_t;
	S->in_qrs = 0;
}

static double ecg_threshold(const ecgdet *S)
{
	double v[8];
	memcpy(v, S->smax, sizeof v);
	for (int i = 1; i < S->nsmax; i++)   /* insertion sort of <= 8 */
		for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double x = v[j];
			v[j] = v[j - 1], v[j - 1] = x;
		}
	return 0.4 * v[S->nsmax / 2];
}

static void ecg_sample(ecgdet *S, double t, float y)
{
	double a = fabs(y);
	if (t >= S->sec_end) {
		if (S->sec_end > 0) {
			S->smax[S->nsmax < 8 ? S->nsmax++ :
				(int)((int64_t)S->sec_end % 8)] = S->cur_max;
			S->thr = ecg_threshold(S);
		}
		S->cur_max = 0, S->sec_end = floor(t) + 1;
	}
	if (a > S->cur_max)     /* fmax's answer (a NaN a leaves it), inline */
		S->cur_max = a;
	if (S->need_next)
		S->q_after = a, S->need_next = 0;
	if (S->in_qrs && a > S->q_peak)
		S->q_peak = a, S->q_t = t, S->q_before = S->prev_a,
		S->need_next = 1;
	else if (S->in_qrs && t - S->q_t > 0.1 && !S->need_next)
		qrs_done(S, 1 / S->rate);
	if (!S->in_qrs && S->nsmax >= 2 && t - S->last_r > 0.25 &&
	    a > S->thr) {
		S->in_qrs = 1, S->q_start = t;
		S->q_peak = a, S->q_t = t, S->q_before = S->prev_a;
		S->need_next = 1;
	}
	S->prev_a = a;
}

/* The first of tick[i..n) at or past second s (times only grow). */
static int first_at(const int64_t *tick, int i, int n, double s)
{
	while (i < n) {
		int m = i + (n - i) / 2;
		if ((double)tick[m] / PSG_TICKS_PER_SEC >= s)
			n = m;
		else
			i = m + 1;
	}
	return i;
}

/* ecg_sample of y[i..e), all before the second's end, outside a QRS:
   only the second's maximum, and the test that starts a QRS, which needs
   the time only where the threshold is passed.  Where one starts, the
   index after it, else e. */
static int ecg_quiet(ecgdet *S, const int64_t *tick, const float *y, int i,
		     int e)
{
	for (; i < e; i++) {
		double a = fabs(y[i]), t;
		if (a > S->cur_max)
			S->cur_max = a;
		if (a > S->thr && S->nsmax >= 2 &&
		    (t = (double)tick[i] / PSG_TICKS_PER_SEC) - S->last_r > 0.25) {
			S->in_qrs = 1, S->q_start = t;
			S->q_peak = a, S->q_t = t, S->q_before = S->prev_a;
			S->need_next = 1;
			S->prev_a = a;
			return i + 1;
		}
		S->prev_a = a;
	}
	return e;
}

/* ecg_sample of y[0..n) at tick[0..n): sample by sample in a QRS and at
   a second's start, and between them by ecg_quiet, which spares most
   samples their time in seconds (a division each).  Then how far the R
   peaks are final: 0.3 s before the last sample, or before the QRS in
   progress. */
static void ecg_run(ecgdet *S, const int64_t *tick, const float *y, int n)
{
	for (int i = 0; i < n;) {
		double t = (double)tick[i] / PSG_TICKS_PER_SEC;
		if (S->in_qrs || S->need_next || t >= S->sec_end)
			ecg_sample(S, t, y[i++]);
		else
			i = ecg_quiet(S, tick, y, i,
				      first_at(tick, i, n, S->sec_end));
	}
	if (n > 0)
		S->known = S->in_qrs ? S->q_start - 0.3 :
			   (double)tick[n - 1] / PSG_TICKS_PER_SEC - 0.3;
}

/* ---- the stream ---- */

/* t[i] = base + o[i] for i < n, two at a time. */
typedef int64_t vint64 __attribute__((vector_size(2 * sizeof(int64_t))));
static void add_to(int64_t *t, const int64_t *o, size_t n, int64_t base)
{
	size_t i = 0;
	for (; i + 2 <= n; i += 2) {
		vint64 v;
		memcpy(&v, o + i, sizeof v);
		v += base;
		memcpy(t + i, &v, sizeof v);
	}
	for (; i < n; i++)
		t[i] = base + o[i];
}

/* A table only where it is short: a record of up to 8192 samples (64 KB
   a channel; a longer record is timed by the clock). */
#define TICKS_MAX 8192

static void ticks_init(ticks *k, const psg_channel *pc)
{
	*k = (ticks){.pc = pc};
	if (pc->spr < 1 || pc->spr > TICKS_MAX || pc->period < 1)
		return;
	if (!(k->off = malloc((size_t)pc->spr * sizeof *k->off)))
		die(EXIT_IO, "out of memory");
	for (int r = 0; r < pc->spr; r++)
		if ((k->off[r] = psg_sample_time(pc, 0, r)) == INT64_MAX) {
			free(k->off);   /* saturated: each by the clock */
			k->off = NULL;
			return;
		}
}

/* psg_sample_time of samples idx .. idx + n - 1 of the segment at t0
   into t[0..n): by the table while no sum can overflow, else by the
   clock (which saturates as psg_sample_time does). */
static void ticks_get(ticks *k, int64_t t0, int64_t idx, size_t n,
		      int64_t *t)
{
	const int64_t spr = k->pc->spr, period = k->pc->period;
	int64_t r = 0, base, end;
	size_t j = 0;
	if (k->off && idx >= 0 &&
	    !__builtin_mul_overflow(idx / spr, period, &base) &&
	    !__builtin_add_overflow(base, t0, &base))
		for (r = idx % spr; j < n &&
		     !__builtin_add_overflow(base, period, &end);
		     r = 0, base = end) {
			size_t m = (size_t)(spr - r) < n - j ?
				   (size_t)(spr - r) : n - j;
			add_to(t + j, k->off + r, m, base); /* <= end */
			j += m;
		}
	if (j < n)
		psg_clock_times(&k->clk, k->pc, t0, idx + (int64_t)j, n - j,
				t + j);
}

/* Ends on the reading thread's failure when it failed, with its reason
   and code, else on `st' (its thread joined first: it has stopped). */
__attribute__((noreturn))
static void die_ahead(state *S, int st, const char *msg)
{
	char why[600];
	const char *m;
	int fst = psg_ahead_error(S->ah, &m);
	snprintf(why, sizeof why, "%s", fst ? m : msg);
	psg_ahead_free(S->ah);
	S->ah = NULL;
	die(exit_code(fst ? fst : st), "%s", why);
}

/* A filter's push or finish, here or ahead on the reading thread. */
static void filter_done(state *S, int st)
{
	if (st)
		die_ahead(S, st, psg_strerror(st));
}

/* How many of the n samples at tick[0..n), of `avail' waiting, can be
   conditioned now: a sample waits for the ECG's R peaks around it, but
   never for longer than its filter can hold them back (an FFT block) and
   5 s.  Each condition only turns true as the index grows, so the first
   sample meeting both is searched for, not every sample tested. */
static size_t emg_ready(const state *S, const emgch *c, const int64_t *tick,
			size_t n, size_t avail)
{
	double pre = (double)c->pre / c->rate, wait = S->ecg_wait * c->rate;
	size_t lo = 0, hi = n, m;
	while (lo < hi) {       /* the first whose beat is not known yet */
		m = lo + (hi - lo) / 2;
		if ((double)tick[m] / PSG_TICKS_PER_SEC + pre > S->known)
			hi = m;
		else
			lo = m + 1;
	}
	for (hi = n; lo < hi;) {        /* from it, the first held too long */
		m = lo + (hi - lo) / 2;
		if ((double)(avail - m) < wait)
			hi = m;
		else
			lo = m + 1;
	}
	return lo;
}

/* The filter's output, conditioned in place in its queue (no copy out)
   as far as the beats are known (all with force), RUN samples at a time:
   each step over a whole run keeps its state in registers. */
#define RUN 256
static void emg_run(state *S, emgch *c, psg_writer *w, int force)
{
	int64_t tick[RUN];
	int avail;
	float *x;
	while ((x = psg_ahead_peek(S->ah, c->slot, &avail))) {
		size_t n = avail < RUN ? (size_t)avail : RUN, m = n;
		ticks_get(&c->tk, c->t0, c->k, n, tick);
		if (!force && S->ecg >= 0)
			m = emg_ready(S, c, tick, n, (size_t)avail);
		unbleed(S, c, tick, x, m);
		env_feed(S, c, tick, x, m, w);
		psg_ahead_consume(S->ah, c->slot, (int)m);
		c->k += (int64_t)m;
		if (m < n)
			break;
	}
}

static void emg_end_segment(state *S, emgch *c, psg_writer *w)
{
	filter_done(S, psg_ahead_finish(S->ah, c->slot));
	emg_run(S, c, w, 1);
	env_flush(S, c, w);
	c->capn = 0;
}

static void emg_block(state *S, emgch *c, const psg_block *b, psg_writer *w)
{
	if (!c->started || b->t0 != c->t0 || b->offset != c->next) {
		if (c->started)
			emg_end_segment(S, c, w);
		c->started = 1, c->t0 = b->t0, c->k = b->offset;
	}
	c->next = b->offset + b->n;
	filter_done(S, psg_ahead_push(S->ah, c->slot, b));
	emg_run(S, c, w, 0);
}

/* The ECG filter's drain (psg_ahead_drain): its outputs through the R
   peaks' detector after a push of b, or after a finish (b NULL), which
   also ends a QRS in progress; the message is known, then the R peaks. */
static int ecg_drain(void *ctx, psg_filter *f, const psg_block *b,
		     const void **msg, size_t *len)
{
	ecgdet *d = ctx;
	int64_t tick[RUN];
	int n;
	const float *y;
	if (b && (!d->started || b->t0 != d->t0 || b->offset != d->next))
		d->started = 1, d->t0 = b->t0, d->k = b->offset;
	if (b)
		d->next = b->offset + b->n;
	d->nmsg = 1;
	while ((y = psg_filter_peek(f, &n))) {
		n = n < RUN ? n : RUN;
		ticks_get(&d->tk, d->t0, d->k, (size_t)n, tick);
		ecg_run(d, tick, y, n);
		d->k += n;
		psg_filter_consume(f, n);
	}
	if (!b && d->in_qrs)
		qrs_done(d, 1 / d->rate);
	d->msg[0] = d->known;
	*msg = d->msg, *len = d->nmsg * sizeof *d->msg;
	return d->nomem ? PSG_ERR_NOMEM : PSG_OK;
}

/* The R peaks the ECG filter's last call found, and how far they are
   final. */
static void ecg_apply(state *S)
{
	size_t len;
	const double *m = psg_ahead_message(S->ah, S->ecg_slot, &len);
	size_t n = len / sizeof *m;
	if (n)
		S->known = m[0];
	for (size_t i = 1; i < n; i++)
		S->r[S->nr++ % RCAP] = m[i];
}

static void ecg_block(state *S, const psg_block *b, psg_writer *w)
{
	if (!S->ecg_started || b->t0 != S->e_t0 || b->offset != S->e_next) {
		if (S->ecg_started) {
			filter_done(S, psg_ahead_finish(S->ah, S->ecg_slot));
			ecg_apply(S);
		}
		S->ecg_started = 1, S->e_t0 = b->t0;
	}
	S->e_next = b->offset + b->n;
	filter_done(S, psg_ahead_push(S->ah, S->ecg_slot, b));
	ecg_apply(S);
	for (int i = 0; i < S->nch; i++)
		if (S->c[i].started)
			emg_run(S, &S->c[i], w, 0);
}

static void event_in(state *S, const psg_event *e)
{
	double on = (double)e->onset / PSG_TICKS_PER_SEC;
	double d = e->duration > 0 ? (double)e->duration / PSG_TICKS_PER_SEC : 0;
	if (e->type == S->ann_type && e->label) {
		int st = stage_of(e->label);
		if (st < -1 || d <= 0)
			return;
		S->runs = grow(S->runs, &S->runcap, S->nruns, sizeof *S->runs);
		S->runs[S->nruns++] = (stagerun){on, on + d, st};
	} else if (e->type == S->ar_type) {
		S->ar = grow(S->ar, &S->arcap, S->nar, sizeof *S->ar);
		S->ar[S->nar][0] = on, S->ar[S->nar++][1] = on + d;
	} else if (e->type == S->aw_type) {
		S->aw = grow(S->aw, &S->awcap, S->naw, sizeof *S->aw);
		S->aw[S->naw][0] = on, S->aw[S->naw++][1] = on + d;
	}
}

static void stage_in(state *S, int64_t epoch, double v)
{
	if (epoch < 0 || epoch > (int64_t)1 << 24)
		return;
	while (S->nstg <= (size_t)epoch) {
		S->stg = grow(S->stg, &S->stgcap, S->nstg, 1);
		S->stg[S->nstg++] = -1;
	}
	S->stg[epoch] = (signed char)(v >= 0 && v <= 4 ? v : -1);
}

static void epoch_in(state *S, const psg_epoch *e)
{
	for (int i = 0; i < e->n; i++) {
		if ((int)e->feature[i] == S->f_stage)
			stage_in(S, e->epoch, e->value[i]);
		if ((int)e->feature[i] != S->f_wake || e->epoch < 0 ||
		    e->epoch > (int64_t)1 << 24)
			continue;
		while (S->nwake <= (size_t)e->epoch) {
			S->wake = grow(S->wake, &S->wakecap, S->nwake,
				       sizeof *S->wake);
			S->wake[S->nwake++] = -1;
		}
		double v = e->value[i];
		S->wake[e->epoch] = (signed char)(v == 0 ? 0 : v == 1 ? 1 : -1);
	}
}

/* ---- the night: LMs, series, arousals (at END) ---- */

static int linked(double (*iv)[2], size_t n, size_t *k, double on,
		  double off, double gap);

static int cmp_held(const void *a, const void *b)
{
	double x = ((const held *)a)->on, y = ((const held *)b)->on;
	return (x > y) - (x < y);
}

static int cmp_ar(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void add_part(state *S, size_t owner, const held *h)
{
	S->part = grow(S->part, &S->partcap, S->npart, sizeof *S->part);
	S->part[S->npart++] = (part){owner, h->on, h->off, h->peak, h->mean,
				     h->base, h->ch};
}

/* Whether the event lm[k] was seen on channel ch. */
static int seen_on(const state *S, size_t k, int ch)
{
	if (S->lm[k].nch == 1)
		return S->lm[k].ch == ch;
	for (size_t i = S->npart; i-- > 0;)
		if (S->part[i].owner == k && S->part[i].ch == ch)
			return 1;
	return 0;
}

/* The burst b joins the event lm[k], which keeps each channel's own
   burst as a part. */
static void join(state *S, size_t k, const held *b)
{
	held *a = &S->lm[k];
	int new_ch = !seen_on(S, k, b->ch);
	if (a->nch == 1)
		add_part(S, k, a);
	add_part(S, k, b);
	double da = a->off - a->on, db = b->off - b->on;
	a->mean = (float)((a->mean * da + b->mean * db) / (da + db));
	a->peak = fmaxf(a->peak, b->peak);
	a->base = (a->base + b->base) / 2;
	a->off = fmax(a->off, b->off);
	a->nch += new_ch;
	a->bilateral = 1;
}

/* One movement seen on several legs is one event.  LMs of different legs
   that overlap or lie < bilat_gap apart become one bilateral LM of at
   most bilat_max (WASM 2016).  Spasms of different legs that overlap or
   lie as close join the same way, whatever their length, when they start
   less than lm_max (10 s) apart: a bilateral cramp or a whole-body
   movement is one spasm, not one per leg, while a contraction that
   starts later than an LM could last is one of its own.  No scoring rule
   counts spasms; WASM's bilateral rule is the closest. */
static void merge_legs(state *S)
{
	const opts *o = S->o;
	size_t j = 0, sp = SIZE_MAX;     /* sp: the last spasm kept */
	sort_n(S->lm, S->nlm, sizeof *S->lm, cmp_held);
	for (size_t i = 0; i < S->nlm; i++) {
		held *a = j ? &S->lm[j - 1] : NULL, *b = &S->lm[i];
		if (a && a->kind == K_LM && b->kind == K_LM && a->ch != b->ch &&
		    b->on - a->off < o->bilat_gap &&
		    fmax(a->off, b->off) - a->on <= o->bilat_max) {
			join(S, j - 1, b);
			continue;
		}
		if (b->kind == K_SPASM && sp != SIZE_MAX &&
		    b->on - S->lm[sp].off < o->bilat_gap &&
		    b->on - S->lm[sp].on < o->lm_max &&
		    !seen_on(S, sp, b->ch)) {
			join(S, sp, b);
			continue;
		}
		if (b->kind == K_SPASM)
			sp = j;
		S->lm[j++] = *b;
	}
	S->nlm = j;
}

static int cmp_part(const void *a, const void *b)
{
	const part *x = a, *y = b;
	if (x->owner != y->owner)
		return (x->owner > y->owner) - (x->owner < y->owner);
	return (x->on > y->on) - (x->on < y->on);
}

/* The parts of the event lm[k], written as emg_channels rows with the
   event's id; *next walks the parts, sorted by owner. */
static void emit_parts(state *S, psg_writer *w, size_t k, int64_t id,
		       size_t *next)
{
	for (; *next < S->npart && S->part[*next].owner == k; ++*next) {
		const part *p = &S->part[*next];
		double v[4] = {(double)id, p->peak, p->mean, p->base};
		psg_event e = {.type = S->ch_type, .channel = p->ch,
			.onset = llround(p->on * PSG_TICKS_PER_SEC),
			.duration = llround((p->off - p->on) *
					    PSG_TICKS_PER_SEC),
			.label = KIND_NAME(S->lm[k].kind), .nvalues = 4,
			.values = v};
		write_event(w, &e);
	}
}

static void arousal_links(state *S)
{
	if (S->ar_type < 0)
		return;
	if (S->nar)
		sort_n(S->ar, S->nar, sizeof *S->ar, cmp_ar);
	size_t k = 0;
	for (size_t i = 0; i < S->nlm; i++) {
		held *m = &S->lm[i];
		m->arousal = (int8_t)linked(S->ar, S->nar, &k, m->on, m->off,
					    S->o->arousal_gap);
	}
}

typedef struct counts {
	long lm, lm_sleep, plm, plms, plms_ar, series;
} counts;

/* A run of candidate LMs [a, b): a series when long enough. */
static void close_run(state *S, size_t a, size_t b, counts *n, psg_writer *w)
{
	if (b - a < (size_t)S->o->series_min)
		return;
	int32_t id = (int32_t)++n->series;
	double imi = (S->lm[b - 1].on - S->lm[a].on) / (double)(b - a - 1);
	long nar = 0;
	for (size_t i = a; i < b; i++)
		S->lm[i].series = id, nar += S->lm[i].arousal == 1;
	double v[4] = {id, (double)(b - a), imi, S->ar_type < 0 ? NAN : nar};
	psg_event e = {.type = S->sr_type, .channel = -1,
		.onset = llround(S->lm[a].on * PSG_TICKS_PER_SEC),
		.duration = llround((S->lm[b - 1].off - S->lm[a].on) *
				    PSG_TICKS_PER_SEC),
		.label = "plm_series", .nvalues = 4, .values = v};
	write_event(w, &e);
}

/* PLM series (WASM 2016): runs of >= series_min candidate LMs whose
   onsets are 10-90 s apart; any other interval, or a leg burst that is
   no candidate (a spasm), ends a run. */
static void find_series(state *S, counts *n, psg_writer *w)
{
	const opts *o = S->o;
	size_t a = 0;
	for (size_t i = 0; i <= S->nlm; i++) {
		int breaks = i == S->nlm || S->lm[i].kind != K_LM;
		if (!breaks && i > a) {
			double imi = S->lm[i].on - S->lm[i - 1].on;
			breaks = imi < o->imi_min || imi > o->imi_max;
		}
		if (!breaks)
			continue;
		close_run(S, a, i, n, w);
		a = i < S->nlm && S->lm[i].kind != K_LM ? i + 1 : i;
	}
}

static void count_lm(const state *S, const held *m, counts *n)
{
	int in_sleep = m->sleep == 1 || (!S->nwake && !S->nruns);
	n->lm++, n->lm_sleep += in_sleep;
	n->plm += m->series > 0;
	n->plms += m->series > 0 && in_sleep;
	n->plms_ar += m->series > 0 && in_sleep && m->arousal == 1;
}

/* LMs and spasms, each once however many legs it was seen on. */
static void night(state *S, counts *n, psg_writer *w)
{
	size_t next = 0;
	merge_legs(S);
	arousal_links(S);
	for (size_t i = 0; i < S->nlm; i++)
		S->lm[i].sleep = (int8_t)sleep_at(S, S->lm[i].on);
	find_series(S, n, w);
	if (S->npart)
		qsort(S->part, S->npart, sizeof *S->part, cmp_part);
	for (size_t i = 0; i < S->nlm; i++) {
		const held *m = &S->lm[i];
		double d = m->off - m->on;
		if (m->kind == K_LM) {
			count_lm(S, m, n);
		} else {
			S->n_spasm++, S->spasm_s += d;
			S->spasm_amp += m->mean * d;
		}
		row r = {{m->on, m->off, m->peak, m->mean, m->base, m->ch},
			 m->kind, m->bilateral, m->nch, m->nch, m->series,
			 m->kind == K_LM && S->ar_type >= 0 ? m->arousal : NAN};
		emit_parts(S, w, i, emit(S, w, &r, m->sleep < 0 ? NAN :
					 m->sleep), &next);
	}
}

/* Hours the indices are per: of sleep (wake epochs, else the
   hypnogram), else of recording; *basis says which (1, 2, 0). */
static double index_hours(const state *S, double duration, int *basis)
{
	double s = 0;
	if (S->nwake) {
		for (size_t i = 0; i < S->nwake; i++)
			s += S->wake[i] == 0;
		*basis = 1;
		return s * (double)S->h->epoch_len / PSG_TICKS_PER_SEC / 3600;
	}
	if (S->nruns) {
		for (size_t i = 0; i < S->nruns; i++)
			if (S->runs[i].stage > PSG_STAGE_W)
				s += fmin(S->runs[i].off, duration) -
				     S->runs[i].on;
		*basis = 2;
		return fmax(s, 0) / 3600;
	}
	*basis = 0;
	return duration / 3600;
}

static void summary(psg_writer *w, const char *name, const char *unit,
		    double v)
{
	psg_summary s = {name, unit, v};
	if (psg_write_summary(w, &s))
		die(EXIT_IO, "%s", psg_writer_errmsg(w));
}

/* ---- general muscle events on every channel (issue 18) ---- */

/* Overlap or less than gap between the end of one and the onset of the
   other, whichever comes first: WASM 2016's LM-arousal association
   (Ferri et al., Sleep Med 26:86).  iv is sorted by onset; *k walks it
   as the events come in onset order. */
static int linked(double (*iv)[2], size_t n, size_t *k, double on,
		  double off, double gap)
{
	while (*k < n && iv[*k][1] + gap <= on)
		++*k;
	for (size_t j = *k; j < n && iv[j][0] < off + gap; j++)
		if (iv[j][1] + gap > on)
			return 1;
	return 0;
}

static int m_kind(const state *S, double d)
{
	return d < S->o->twitch_max ? 0 : d < S->o->spasm_s ? 1 : 2;
}

static const char *const m_kind_name[] = {"twitch", "burst", "spasm"};

static void muscle_add(state *S, const emgch *c, const psg_contraction *k)
{
	S->mp = grow(S->mp, &S->mpcap, S->nmp, sizeof *S->mp);
	S->mp[S->nmp++] = (mpart){k->on, k->off, (float)k->peak,
		(float)k->mean, (float)k->rest, (float)k->t_peak,
		(int16_t)k->sub_bursts, (int16_t)(c - S->c), (int8_t)k->waxing,
		0};
}

/* By event (0, not yet grouped, last), then onset. */
static int cmp_mpart(const void *a, const void *b)
{
	const mpart *x = a, *y = b;
	uint32_t ex = (uint32_t)x->event - 1, ey = (uint32_t)y->event - 1;
	if (ex != ey)
		return (ex > ey) - (ex < ey);
	return (x->on > y->on) - (x->on < y->on);
}

/* The part of the event whose contraction is the strongest (its mean):
   the event's channel and shape. */
static const mpart *dominant(const state *S, const mevent *e)
{
	const mpart *d = &S->mp[e->first];
	for (size_t i = e->first; i < e->first + e->n; i++)
		if (S->mp[i].mean > d->mean)
			d = &S->mp[i];
	return d;
}

static void m_write(state *S, psg_writer *w, int type, const mpart *p,
		    double on, double off, int kind, const double *v, int nv)
{
	psg_event ev = {.type = type, .channel = S->c[p->c].ch,
		.onset = llround(on * PSG_TICKS_PER_SEC),
		.duration = llround((off - on) * PSG_TICKS_PER_SEC),
		.label = m_kind_name[kind], .nvalues = nv, .values = v};
	write_event(w, &ev);
}

static double known(int v)
{
	return v < 0 ? NAN : v;
}

/* Counts for the muscles' figures. */
static void m_count(state *S, const mevent *e, const mpart *p)
{
	emgch *c = &S->c[p->c];
	double d = p->off - p->on;
	int kind = m_kind(S, d);
	c->m_count[kind]++;
	if (kind != 2)
		return;
	c->m_s += d, c->m_amp += p->mean * d;
	if (e->sleep == 1 || (!S->nwake && !S->nruns)) {
		c->m_sleep++;
		c->m_ar += e->arousal == 1, c->m_aw += e->awakening == 1;
	}
}

/* One muscle event and its parts (mp[first..first + n), sorted). */
static void m_emit(state *S, psg_writer *w, const mevent *e)
{
	const mpart *d = dominant(S, e);
	double peak = 0, sum = 0, len = 0, id = (double)++S->n_mevent;
	for (size_t i = e->first; i < e->first + e->n; i++) {
		const mpart *p = &S->mp[i];
		double pv[7] = {id, p->peak, p->mean, p->rest, p->t_peak,
				p->sub, p->waxing};
		peak = fmax(peak, p->peak);
		sum += p->mean * (p->off - p->on), len += p->off - p->on;
		m_write(S, w, S->mp_type, p, p->on, p->off,
			m_kind(S, p->off - p->on), pv, 7);
		m_count(S, e, p);
	}
	int kind = m_kind(S, e->off - e->on);
	double v[11] = {id, (double)e->n, peak, len > 0 ? sum / len : 0,
			d->rest, d->t_peak, d->sub, d->waxing, known(e->sleep),
			known(e->arousal), known(e->awakening)};
	S->n_mspasm += kind == 2, S->n_multi += e->n > 1;
	m_write(S, w, S->me_type, d, e->on, e->off, kind, v, 11);
}

/* Contractions of several muscles that overlap or lie < --bilateral's
   gap apart, starting less than --join apart, are one movement (a whole-
   body movement, a bilateral spasm): WASM's bilateral-LM rule, the
   closest published one, with an onset limit so that a muscle that
   starts later is an event of its own.  Marks mp[i]'s group (mp sorted
   by onset) with id; returns its offset. */
static double group(state *S, size_t i, int32_t id)
{
	mpart *a = &S->mp[i];
	double off = a->off;
	uint32_t seen[MAXCH / 32 + 1] = {0};
	a->event = id;
	seen[a->c / 32] |= 1u << (a->c % 32);
	for (size_t j = i + 1; j < S->nmp; j++) {
		mpart *b = &S->mp[j];
		if (b->on >= off + S->o->bilat_gap || b->on - a->on >= S->o->join)
			break;
		if (b->event || (seen[b->c / 32] >> (b->c % 32) & 1))
			continue;
		b->event = id;
		seen[b->c / 32] |= 1u << (b->c % 32);
		off = fmax(off, b->off);
	}
	return off;
}

/* Sleep state, arousal and awakening of an event (-1: not known). */
static void m_state(state *S, mevent *e)
{
	double gap = S->o->arousal_gap;
	size_t ka = 0, kw = 0;
	e->sleep = sleep_at(S, e->on);
	e->arousal = S->ar_type < 0 ? -1 :
		     linked(S->ar, S->nar, &ka, e->on, e->off, gap);
	e->awakening = S->aw_type < 0 ? -1 :
		       linked(S->aw, S->naw, &kw, e->on, e->off, gap);
}

/* Groups the held contractions, marks those no contraction to come can
   join (one starting at upto or later, the earliest onset any channel
   may still report) with their event number, the others with 0. */
static void m_group(state *S, double upto)
{
	int32_t id = 0;
	for (size_t i = 0; i < S->nmp; i++)
		S->mp[i].event = 0;
	sort_n(S->mp, S->nmp, sizeof *S->mp, cmp_mpart);
	for (size_t i = 0; i < S->nmp; i++) {
		if (S->mp[i].event)
			continue;
		double off = group(S, i, id + 1);
		if (upto < off + S->o->bilat_gap &&
		    upto < S->mp[i].on + S->o->join) {
			for (size_t j = i; j < S->nmp; j++)
				S->mp[j].event = 0;
			break;
		}
		id++;
	}
}

/* Writes the final events, in onset order, and forgets them. */
static void m_flush(state *S, psg_writer *w, double upto)
{
	if (!S->nmp || (S->m_hold && upto < INFINITY))
		return;
	m_group(S, upto);
	size_t k = 0;
	sort_n(S->mp, S->nmp, sizeof *S->mp, cmp_mpart);
	while (k < S->nmp && S->mp[k].event) {
		mevent e = {S->mp[k].on, S->mp[k].off, k, 0, -1, -1, -1};
		for (; k < S->nmp && S->mp[k].event == S->mp[e.first].event;
		     k++, e.n++)
			e.off = fmax(e.off, S->mp[k].off);
		m_state(S, &e);
		m_emit(S, w, &e);
	}
	memmove(S->mp, S->mp + k, (S->nmp - k) * sizeof *S->mp);
	S->nmp -= k;
}

/* The earliest onset a channel may still report. */
static double m_upto(const state *S)
{
	double t = INFINITY;
	for (int i = 0; i < S->nch; i++)
		t = fmin(t, psg_muscle_pending(S->c[i].mus));
	return t;
}

/* Each muscle's figures, under its name. */
static void m_summaries(state *S, psg_writer *w, double per)
{
	for (int i = 0; i < S->nch; i++) {
		const emgch *c = &S->c[i];
		char n[PSG_LABEL_LEN + 40];
		double ar = S->ar_type < 0 ? NAN : 1, aw = S->aw_type < 0 ?
			    NAN : 1;
#define M_SUM(what, unit, v) (snprintf(n, sizeof n, "muscle_%s %s", what, \
				       c->name), summary(w, n, unit, v))
		M_SUM("spasms", "", (double)c->m_count[2]);
		M_SUM("spasm_minutes", "min", c->m_s / 60);
		M_SUM("spasm_intensity", "uV", c->m_s > 0 ? c->m_amp / c->m_s :
		      NAN);
		M_SUM("spasm_index", "1/h", c->m_sleep * per);
		M_SUM("spasm_arousal_index", "1/h", c->m_ar * per * ar);
		M_SUM("spasm_awakening_index", "1/h", c->m_aw * per * aw);
		M_SUM("twitch_index", "1/h", c->m_count[0] * per);
		M_SUM("burst_index", "1/h", c->m_count[1] * per);
#undef M_SUM
	}
	summary(w, "muscle_spasm_events", "", (double)S->n_mspasm);
	summary(w, "muscle_events_multi", "", (double)S->n_multi);
}

static void summaries(state *S, const counts *n, double duration,
		      psg_writer *w)
{
	int basis, legs = 0, jaw = 0;
	double hrs = index_hours(S, duration, &basis);
	double per = hrs > 0 ? 1 / hrs : NAN;
	for (int i = 0; i < S->nch; i++) {
		legs += S->c[i].role == R_LEG;
		jaw += S->c[i].role == R_CHIN || S->c[i].role == R_JAW;
	}
	/* Not measured is NaN, not 0: a cohort table must not read a
	   montage without leg EMG as a night without leg movements. */
	double leg = legs ? 1 : NAN;
	summary(w, "lm_index", "1/h", n->lm_sleep * per * leg);
	summary(w, "plms_index", "1/h", n->plms * per * leg);
	summary(w, "plms_arousal_index", "1/h", S->ar_type < 0 ? NAN :
		n->plms_ar * per * leg);
	summary(w, "plm_series_count", "", (double)n->series * leg);
	summary(w, "spasm_count", "", (double)S->n_spasm * leg);
	summary(w, "spasm_minutes", "min", S->spasm_s / 60 * leg);
	summary(w, "spasm_intensity", "uV", S->spasm_s > 0 ?
		S->spasm_amp / S->spasm_s : NAN);
	summary(w, "twitch_index", "1/h", S->n_twitch * per);
	summary(w, "rmma_index", "1/h", jaw ? S->n_rmma * per : NAN);
	summary(w, "atonia_index", "", S->rem_s - S->ai_1to2 > 0 ?
		(double)S->ai_le1 / (double)(S->rem_s - S->ai_1to2) : NAN);
	summary(w, "rem_phasic_density", "1/min", S->rem_s > 0 ?
		S->rem_bursts / (S->rem_s / 60.0) : NAN);
	summary(w, "emg_index_basis", "", basis);
	summary(w, "emg_rem_source", "", S->nruns ? 2 : S->nstg ? 1 : 0);
	summary(w, "emg_index_hours", "h", hrs);
	summary(w, "emg_ecg_removed", "", S->ecg >= 0);
	m_summaries(S, w, per);
	for (int i = 0; i < S->nch; i++) {
		char name[PSG_LABEL_LEN + 16];
		const emgch *c = &S->c[i];
		snprintf(name, sizeof name, "emg_baseline %s",
			 S->h->channels[c->ch].label);
		summary(w, name, "uV", c->base_n ? c->base_sum / c->base_n :
			NAN);
	}
}

/* ---- setup ---- */

static psg_header *declare(state *S, const psg_header *in, int argc,
			   char **argv)
{
	const char *f[] = {"kind", "peak", "mean", "baseline", "bilateral",
			   "series", "arousal", "bursts", "sleep", "id",
			   "channels"};
	const char *u[] = {"", "uV", "uV", "uV", "", "", "", "", "", "", ""};
	const char *sf[] = {"id", "lms", "imi_mean", "arousals"};
	const char *su[] = {"", "", "s", ""};
	const char *cf[] = {"id", "peak", "mean", "baseline"};
	const char *cu[] = {"", "uV", "uV", "uV"};
	const char *mf[] = {"id", "muscles", "peak", "mean", "baseline",
			    "time_to_peak", "sub_bursts", "waxing", "sleep",
			    "arousal", "awakening"};
	const char *mu[] = {"", "", "uV", "uV", "uV", "s", "", "", "", "", ""};
	const char *mf2[] = {"id", "peak", "mean", "baseline", "time_to_peak",
			     "sub_bursts", "waxing"};
	const char *mu2[] = {"", "uV", "uV", "uV", "s", "", ""};
	psg_header *h = derive_header(in, argc, argv);
	S->ev_type = psg_header_add_evtype(h, "emg_bursts", 11, f, u);
	S->sr_type = psg_header_add_evtype(h, "plm_series", 4, sf, su);
	S->ch_type = psg_header_add_evtype(h, "emg_channels", 4, cf, cu);
	S->me_type = psg_header_add_evtype(h, "muscle_events", 11, mf, mu);
	S->mp_type = psg_header_add_evtype(h, "muscle_parts", 7, mf2, mu2);
	if (S->ev_type < 0 || S->sr_type < 0 || S->ch_type < 0 ||
	    S->me_type < 0 || S->mp_type < 0)
		die(EXIT_UNSUITABLE, "the stream already has EMG results "
		    "(psg-emg ran twice?)");
	return h;
}

static void channel_init(state *S, emgch *c)
{
	const opts *o = S->o;
	const psg_channel *pc = &S->h->channels[c->ch];
	c->rate = psg_channel_rate(pc);
	c->bp = emg_filter(S, c->rate, pc->label);
	ticks_init(&c->tk, pc);
	c->step = (int)fmax(1, lround(c->rate / 100));
	c->env_rate = c->rate / c->step;
	c->boxlen = (int)fmax(1, lround(o->smooth * c->rate));
	c->blen = (int)fmax(1, lround(0.5 * c->env_rate));
	double win = c->role == R_LEG ? o->leg_win : o->chin_win;
	c->base = psg_pctl_new((int)ceil(win / 0.5));
	c->rest = NAN;
	c->eqcap = (int)ceil(win / 2 * c->env_rate) + 1;
	/* Bruxism bursts come 0.3-1 s apart: the chin's rest that ends a
	   burst is shorter than the legs' 0.5 s. */
	c->W = (int)fmax(2, lround((c->role == R_LEG ? o->off_s :
				     o->chin_off_s) * c->env_rate));
	c->pre = (int)lround(0.15 * c->rate);
	c->post = (int)lround(0.25 * c->rate);
	c->tlen = c->pre + c->post + 1;
	c->box = calloc((size_t)c->boxlen, sizeof *c->box);
	c->et = calloc((size_t)c->eqcap, sizeof *c->et);
	c->ev = calloc((size_t)c->eqcap, sizeof *c->ev);
	c->qw = calloc((size_t)c->W, sizeof *c->qw);
	c->tstride = (c->tlen + WIDE - 1) / WIDE * WIDE;
	c->wide = wide_ok();
	c->cap = calloc((size_t)c->tstride, sizeof *c->cap);
	c->med = calloc((size_t)c->tstride, sizeof *c->med);
	c->hist = calloc((size_t)c->tstride * NBEAT, sizeof *c->hist);
	c->srt = malloc((size_t)c->tstride * (NBEAT + 1) * sizeof *c->srt);
	c->mus = psg_muscle_new(&o->mo, c->env_rate);
	if (!c->box || !c->et || !c->ev || !c->qw || !c->cap || !c->med ||
	    !c->hist || !c->srt || !c->base || !c->mus)
		die(EXIT_IO, "out of memory");
	for (size_t i = 0; i < (size_t)c->tstride * (NBEAT + 1); i++)
		c->srt[i] = INFINITY;       /* no beat yet */
}

/* The --trace file: written whole or not at all, never over the input. */
static FILE *open_trace(const char *path)
{
	char err[PATH_MAX + 256];
	tmpout_handlers();
	atexit(tmpout_discard);
	tmpout_input_fd(0);
	const char *tmp = tmpout_make(0, path, 1, err, sizeof err);
	FILE *f = tmp ? fopen(tmp, "w") : NULL;
	if (!tmp)
		die(EXIT_IO, "%s", err);
	if (!f)
		die(EXIT_IO, "%s: %s", path, strerror(errno));
	return f;
}

static void close_trace(FILE *f, const char *path)
{
	char err[PATH_MAX + 256];
	if (ferror(f) | fclose(f))
		die(EXIT_IO, "%s: cannot write: %s", path, strerror(errno));
	if (tmpout_commit(0, path, err, sizeof err))
		die(EXIT_IO, "%s", err);
}

static void channel_free(emgch *c)
{
	psg_filter_free(c->bp);
	free(c->box), free(c->et), free(c->ev), free(c->qw);
	free(c->cap), free(c->med), free(c->hist), free(c->srt);
	psg_pctl_free(c->base);
	psg_muscle_free(c->mus);
	free(c->tk.off);
}

static void setup(state *S, const psg_header *hin, const opts *o)
{
	S->o = o;
	S->h = hin;
	pick_role(S, hin, o->legs, R_LEG);
	pick_role(S, hin, o->chin, R_CHIN);
	pick_role(S, hin, o->jaw, R_JAW);
	int guess = 1;
	for (int i = 0; i < o->nmuscle; i++)
		guess &= strcmp(o->muscle[i], "none") != 0;
	if (guess)
		pick_role(S, hin, NULL, R_MUSCLE);
	for (int i = 0; i < o->nmuscle; i++)
		if (strcmp(o->muscle[i], "none"))
			pick_muscle(S, hin, o->muscle[i]);
	if (!S->nch)
		die(EXIT_UNSUITABLE, "no usable EMG channel (legs, chin, "
		    "masseter or another muscle by label, at %g Hz or more, in "
		    "steps of at most %g uV); name them with --legs, --chin, "
		    "--masseter, --muscle", 2 * o->band_hi, o->on_uv / 4);
	S->m_hold = psg_header_find_evtype(hin, "arousals") >= 0 ||
		    psg_header_find_evtype(hin, "awakenings") >= 0 ||
		    psg_header_find_feature(hin, "wake") >= 0;
	S->aton = -1;
	for (int i = 0; i < S->nch; i++) {
		channel_init(S, &S->c[i]);
		if (S->aton < 0 && S->c[i].role == R_CHIN)
			S->aton = i;
	}
	S->ecg = pick_ecg(hin, o->ecg);
	if (S->ecg >= 0) {
		S->ecg_rate = psg_channel_rate(&hin->channels[S->ecg]);
		psg_fir_spec s = {PSG_FIR_BANDPASS, 5, 25, 0, 0, 0};
		int n;
		double *taps = design(&s, S->ecg_rate, &n,
				      hin->channels[S->ecg].label);
		S->ecgf = filter_of_taps(taps, n);
		/* The FFT engine hands out whole blocks: at 200 Hz the ECG's
		   R peaks can come 20 s after the EMG that needs them. */
		S->ecg_wait = (psg_filter_fft_size(S->ecgf) +
			       psg_filter_latency(S->ecgf)) / S->ecg_rate + 5;
	}
	if (o->trace)
		S->trace = open_trace(o->trace);
	S->known = -INFINITY;
	if (S->ecg >= 0) {
		S->ed = (ecgdet){.rate = S->ecg_rate, .known = -INFINITY,
			.last_r = -INFINITY, .msgcap = 64};
		if (!(S->ed.msg = malloc(S->ed.msgcap * sizeof *S->ed.msg)))
			die(EXIT_IO, "out of memory");
		ticks_init(&S->ed.tk, &hin->channels[S->ecg]);
	}
	S->cur_sec = INT64_MIN, S->last_eval = INT64_MIN;
}

/* The filters, run by S->ah: on a thread of their own reading the
   stream ahead (threads 2), or here.  The records then come from it. */
static psg_reader *start_filters(state *S, psg_reader *in, int threads)
{
	int st;
	char msg[512];
	if (!(S->ah = psg_ahead_new(in, threads, &st)))
		die(EXIT_IO, "%s", psg_strerror(st));
	if (S->ecg >= 0)
		S->ecg_slot = psg_ahead_add_drain(S->ah, S->ecg, S->ecgf,
						  ecg_drain, &S->ed);
	for (int i = 0; i < S->nch; i++)
		S->c[i].slot = psg_ahead_add(S->ah, S->c[i].ch, S->c[i].bp);
	if ((st = psg_ahead_start(S->ah, msg, sizeof msg)))
		die(EXIT_IO, "%s", msg);
	return psg_ahead_reader(S->ah);
}

static int find_role(const state *S, int ch)
{
	for (int i = 0; i < S->nch; i++)
		if (S->c[i].ch == ch)
			return i;
	return -1;
}

static void finish(state *S, const psg_end *end, psg_writer *w)
{
	counts n = {0};
	if (S->ecg >= 0 && S->ecg_started) {
		filter_done(S, psg_ahead_finish(S->ah, S->ecg_slot));
		ecg_apply(S);
	}
	S->known = INFINITY;
	for (int i = 0; i < S->nch; i++)
		if (S->c[i].started)
			emg_end_segment(S, &S->c[i], w);
	jaw_flush(S, INFINITY, w);
	report_held(S, w);
	computed_rem(S);
	night(S, &n, w);
	if (S->naw)
		sort_n(S->aw, S->naw, sizeof *S->aw, cmp_ar);
	m_flush(S, w, INFINITY);
	summaries(S, &n, (double)end->duration / PSG_TICKS_PER_SEC, w);
}

int main(int argc, char **argv)
{
	opts o;
	static state S;   /* file scope lifetime: reachable at any exit */
	psg_record rec;
	int st;
	stage_name = "psg-emg";
	parse_args(argc, argv, &o);
	psg_reader *in = open_detector_input(o.optional, argc, argv);
	const psg_header *hin = psg_reader_header(in);
	psg_header *h = declare(&S, hin, argc, argv);
	setup(&S, h, &o);
	for (int i = 0; i < S.nch; i++)
		add_role(h, role_name(S.c[i].role), S.c[i].ch);
	add_role(h, PSG_ROLE_ECG, S.ecg);
	S.ann_type = psg_header_find_evtype(h, "annotations");
	S.ar_type = psg_header_find_evtype(h, "arousals");
	S.aw_type = psg_header_find_evtype(h, "awakenings");
	S.f_wake = psg_header_find_feature(h, "wake");
	S.f_stage = psg_header_find_feature(h, "sleep_stage");
	psg_writer *w = open_stdout_stream(h);
	psg_reader *rin = start_filters(&S, in, o.threads);
	while ((st = psg_reader_next(rin, &rec)) > 0) {
		if (rec.kind == PSG_REC_END) {
			finish(&S, &rec.end, w);
			if (psg_writer_finish(w, &rec.end))
				die(EXIT_IO, "%s", psg_writer_errmsg(w));
			break;
		}
		if (psg_write_record(w, &rec))
			die(EXIT_IO, "%s", psg_writer_errmsg(w));
		if (rec.kind == PSG_REC_DATA && rec.block.n > 0) {
			int i = find_role(&S, rec.block.channel);
			if (rec.block.channel == S.ecg)
				ecg_block(&S, &rec.block, w);
			if (i >= 0)
				emg_block(&S, &S.c[i], &rec.block, w);
		} else if (rec.kind == PSG_REC_EVENT) {
			event_in(&S, &rec.event);
		} else if (rec.kind == PSG_REC_EPOCH &&
			   (S.f_wake >= 0 || S.f_stage >= 0)) {
			epoch_in(&S, &rec.epoch);
		}
	}
	if (st < 0)
		die_ahead(&S, st, psg_reader_errmsg(rin));
	psg_ahead_free(S.ah);
	for (int i = 0; i < S.nch; i++)
		channel_free(&S.c[i]);
	psg_filter_free(S.ecgf);
	free(S.ed.msg), free(S.ed.tk.off);
	for (int i = 0; i < S.ntaps; i++)
		free(S.taps[i].v);
	if (S.trace)
		close_trace(S.trace, o.trace);
	free(S.lm), free(S.ar), free(S.runs), free(S.wake), free(S.jaw);
	free(S.part), free(S.rows), free(S.stg), free(S.cls), free(S.bon);
	free(S.aw), free(S.mp);
	psg_writer_free(w);
	psg_header_free(h);
	psg_reader_free(in);
	return 0;
}
