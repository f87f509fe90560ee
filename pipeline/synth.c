/*
 * synth.c -- psg_synth_*: profiles, the montage, recording pauses, and the
 * record-by-record loop that keeps the planner one epoch ahead of the
 * renderer.  docs/synth.md describes the models and their sources.
 */
#include "synth.h"

#include <stdlib.h>
#include <string.h>

/* Rates are per hour unless named otherwise.  The healthy values follow
   adult norms: sleep-onset latency 10-20 min, ~1 awakening/h, arousal
   index ~10/h (Bonnet & Arand 2007), LM index < 15/h, REM twitches a few
   per minute; the disorder profiles raise one figure each. */
#define NORMAL_NREM 120, 40, 350, 0.10, 0.4, 0, 0
static const profile profiles[] = {
	/* name     sol wake/h wake_min n3  arous  lm  plm spasm rmma ltw ctw
	   floor mains bleed pop sat flat drift */
	{"healthy", 12, 1.0, 1.5, 1.0, 10, 4, 0, 0, 0.3, 6, 4,
	 2, 2, 3, 0.5, 0.2, 0, 10, NORMAL_NREM},
	{"clean", 12, 1.0, 1.5, 1.0, 10, 4, 0, 0, 0.3, 6, 4,
	 2, 0, 0, 0, 0, 0, 0, NORMAL_NREM},
	{"plm", 12, 1.5, 1.5, 1.0, 14, 6, 1.5, 0, 0.3, 6, 4,
	 2, 2, 3, 0.5, 0.2, 0, 10, NORMAL_NREM},
	{"insomnia", 40, 3.0, 4.0, 0.7, 16, 4, 0, 0, 0.3, 6, 4,
	 2, 2, 3, 0.5, 0.2, 0, 10, NORMAL_NREM},
	{"bruxism", 12, 1.0, 1.5, 1.0, 10, 4, 0, 0, 6, 6, 4,
	 2, 2, 3, 0.5, 0.2, 0, 10, NORMAL_NREM},
	{"spasm", 12, 1.5, 1.5, 1.0, 10, 4, 0, 3, 0.3, 10, 4,
	 2, 2, 3, 0.5, 0.2, 0, 10, NORMAL_NREM},
	{"noisy", 12, 1.0, 1.5, 1.0, 10, 4, 0, 0, 0.3, 6, 4,
	 2, 20, 15, 6, 2, 0.5, 40, NORMAL_NREM},
	{"mixed", 25, 2.0, 2.5, 0.8, 14, 6, 1.2, 1.5, 3, 8, 4,
	 2, 8, 8, 2, 0.5, 0.2, 20, NORMAL_NREM},
	/* Stress nights for psg-sws and psg-wake (issue 17): an older
	   sleeper's N3 waves of 50-80 uV (Carrier et al. 2011: slow-wave
	   amplitude falls with age); N2 with dense high-amplitude
	   K-complexes and no N3; sweat sway and movements in NREM, no N3. */
	{"older", 12, 1.0, 1.5, 1.0, 10, 4, 0, 0, 0.3, 6, 4,
	 2, 2, 3, 0.5, 0.2, 0, 10, 65, 50, 80, 0.10, 0.4, 0, 0},
	{"kcomplex", 12, 1.0, 1.5, 0, 10, 4, 0, 0, 0.3, 6, 4,
	 2, 2, 3, 0.5, 0.2, 0, 10, 120, 40, 350, 0.15, 0.9, 0, 0},
	{"sweat", 12, 1.0, 1.5, 0, 10, 4, 0, 0, 0.3, 6, 4,
	 2, 2, 3, 0.5, 0.2, 0, 10, 120, 40, 350, 0.10, 0.4, 60, 20},
};

const profile *synth_profile(const char *name)
{
	if (!name)
		name = "healthy";
	for (size_t i = 0; i < sizeof profiles / sizeof *profiles; i++)
		if (!strcmp(profiles[i].name, name))
			return &profiles[i];
	return NULL;
}

const char *psg_stage_name(int stage)
{
	static const char *n[] = {"W", "N1", "N2", "N3", "R"};
	return stage >= 0 && stage <= 4 ? n[stage] : "?";
}

/* ---- montage ---- */

typedef struct slot {
	const char *label;
	int role, side, prio;    /* prio: order kept when channels are cut */
} slot;

static const slot montage[] = {
	{"F4-M1", R_EEG_F, 1, 0}, {"C4-M1", R_EEG_C, 1, 1},
	{"O2-M1", R_EEG_O, 1, 8}, {"F3-M2", R_EEG_F, 0, 9},
	{"C3-M2", R_EEG_C, 0, 10}, {"O1-M2", R_EEG_O, 0, 11},
	{"E1-M2", R_EOG_L, 0, 2}, {"E2-M2", R_EOG_R, 1, 3},
	{"Chin1-Chin2", R_CHIN, 0, 4}, {"Leg L", R_LEG_L, 0, 5},
	{"Leg R", R_LEG_R, 1, 6}, {"ECG II", R_ECG, 0, 7},
	{"Thor", R_THOR, 0, 12}, {"Abdo", R_ABDO, 0, 13},
	{"Flow", R_FLOW, 0, 14}, {"SpO2", R_SPO2, 0, 15},
};
#define NMONTAGE ((int)(sizeof montage / sizeof *montage))

static const char *const extra_eeg[] = {"Fp1-M2", "Fp2-M1", "Fz-M1",
	"Cz-M1", "Pz-M1", "Oz-M1", "F7-M2", "F8-M1", "T3-M2", "T4-M1",
	"T5-M2", "T6-M1", "P3-M2", "P4-M1"};

static void describe(psg_channel *c, int role, int rate)
{
	static const struct { const char *kind, *unit, *tr; double lo, hi; }
	d[R_NROLES] = {
		[R_EEG_F] = {PSG_KIND_EEG, "uV", "AgAgCl cup", -500, 500},
		[R_EEG_C] = {PSG_KIND_EEG, "uV", "AgAgCl cup", -500, 500},
		[R_EEG_O] = {PSG_KIND_EEG, "uV", "AgAgCl cup", -500, 500},
		[R_EEG_OTHER] = {PSG_KIND_EEG, "uV", "AgAgCl cup", -500, 500},
		[R_EOG_L] = {PSG_KIND_EOG, "uV", "AgAgCl cup", -1000, 1000},
		[R_EOG_R] = {PSG_KIND_EOG, "uV", "AgAgCl cup", -1000, 1000},
		[R_CHIN] = {PSG_KIND_EMG, "uV", "AgAgCl surface", -500, 500},
		[R_LEG_L] = {PSG_KIND_EMG, "uV", "AgAgCl surface", -500, 500},
		[R_LEG_R] = {PSG_KIND_EMG, "uV", "AgAgCl surface", -500, 500},
		[R_MASSETER] = {PSG_KIND_EMG, "uV", "AgAgCl surface", -500,
				500},
		[R_MUSCLE] = {PSG_KIND_EMG, "uV", "AgAgCl surface", -500, 500},
		[R_ECG] = {PSG_KIND_ECG, "uV", "AgAgCl", -5000, 5000},
		[R_THOR] = {PSG_KIND_RESP, "uV", "RIP belt", -1000, 1000},
		[R_ABDO] = {PSG_KIND_RESP, "uV", "RIP belt", -1000, 1000},
		[R_FLOW] = {PSG_KIND_RESP, "uV", "nasal pressure", -1000, 1000},
		[R_SPO2] = {PSG_KIND_SPO2, "%", "pulse oximeter", 0, 100},
	};
	psg__strlcpy(c->kind, d[role].kind, sizeof c->kind);
	psg__strlcpy(c->unit, d[role].unit, sizeof c->unit);
	snprintf(c->transducer, sizeof c->transducer, "%s (synthetic)",
		 d[role].tr);
	c->phys_min = d[role].lo, c->phys_max = d[role].hi;
	c->spr = rate, c->period = PSG_TICKS_PER_SEC;
}

static int rate_of(const psg_synth *s, int role)
{
	if (role <= R_EOG_R)
		return s->eeg_rate;
	if (role <= R_MUSCLE)
		return s->emg_rate;
	return role == R_ECG ? 256 : role == R_SPO2 ? 1 : 32;
}

/* Source weights of a channel by its role (see synth_render.c). */
static void mixing(chan_model *m, const char *label)
{
	static const double w[R_EOG_R + 1][4] = {
		[R_EEG_F] = {1, 0.25, 1, 0.8}, [R_EEG_C] = {0.7, 0.5, 0.7, 1},
		[R_EEG_O] = {0.3, 1, 0.4, 0.5}, [R_EEG_OTHER] = {0.6, 0.6, 0.6,
								0.7},
		[R_EOG_L] = {0.35, 0.1, 0.35, 0.1},
		[R_EOG_R] = {0.35, 0.1, 0.35, 0.1}};
	if (m->role > R_EOG_R)
		return;
	const double *x = w[m->role];
	m->mix_a = x[0], m->mix_p = x[1], m->sw_w = x[2], m->sp_w = x[3];
	(void)label;
}

static int add_channel(psg_synth *s, const char *label, int role, int side)
{
	psg_channel c = {0};
	psg__strlcpy(c.label, label, sizeof c.label);
	describe(&c, role, rate_of(s, role));
	int i = psg_header_add_channel(s->h, &c);
	if (i < 0)
		return i;
	chan_model *m = realloc(s->ch, (size_t)(i + 1) * sizeof *m);
	if (!m)
		return PSG_ERR_NOMEM;
	s->ch = m;
	m = &s->ch[i];
	memset(m, 0, sizeof *m);
	m->role = role, m->side = side, m->rate = (int)c.spr;
	/* Keyed by label, not position: a channel is the same whatever
	   else the montage holds. */
	rng_init(&m->r, s->o.seed, label, 0);
	char key[PSG_LABEL_LEN + 16];
	snprintf(key, sizeof key, "artefacts %s", label);
	rng_init(&m->art, s->o.seed, key, 0);
	m->mains_amp = s->p->mains_uv * rng_range(&m->r, 0.5, 1.5);
	if (s->o.mains_hz < 0)
		m->mains_amp = 0;
	m->mains_phase = rng_range(&m->r, 0, TWO_PI);
	m->drift_a = exp(-TWO_PI * 0.05 / m->rate);
	biquad_bandpass(&m->sweat, m->rate, 0.2, 0.7);
	biquad_lowpass(&m->sweat_lp, m->rate, 0.35, 0.707);
	double fh = 0.4 * m->rate < 100 ? 0.4 * m->rate : 100;
	double f0 = sqrt(10 * fh);
	biquad_bandpass(&m->emg, m->rate, f0, f0 / (fh - 10));
	mixing(m, label);
	return i;
}

static int by_prio(const void *a, const void *b)
{
	return ((const slot *)a)->prio - ((const slot *)b)->prio;
}

static int build_montage(psg_synth *s)
{
	int want = s->o.nchannels ? s->o.nchannels : NMONTAGE, st = 0;
	slot keep[NMONTAGE];
	memcpy(keep, montage, sizeof keep);
	if (want < NMONTAGE)   /* keep the most useful, in montage order */
		qsort(keep, NMONTAGE, sizeof *keep, by_prio);
	int n = want < NMONTAGE ? want : NMONTAGE;
	for (int k = 0; k < NMONTAGE && st >= 0; k++)
		for (int j = 0; j < n && st >= 0; j++)
			if (!strcmp(keep[j].label, montage[k].label))
				st = add_channel(s, montage[k].label,
						 montage[k].role, montage[k].side);
	for (int k = NMONTAGE; k < want && st >= 0; k++) {
		char label[32];
		int e = k - NMONTAGE, n10 = (int)(sizeof extra_eeg /
						  sizeof *extra_eeg);
		if (e < n10)
			snprintf(label, sizeof label, "%s", extra_eeg[e]);
		else
			snprintf(label, sizeof label, "EEG %d-M1", e - n10 + 1);
		st = add_channel(s, label, R_EEG_OTHER, e % 2);
	}
	if (st >= 0 && s->p->rmma_per_h >= 1 && !s->o.nchannels)
		st = add_channel(s, "Masseter R", R_MASSETER, 1);
	/* --muscles: the trunk, shoulder and calf muscles of issue 18. */
	static const slot extra[] = {{"Paraspinal L", R_MUSCLE, 0, 0},
		{"Paraspinal R", R_MUSCLE, 1, 0}, {"Trapezius R", R_MUSCLE, 1, 0},
		{"Calf L", R_MUSCLE, 0, 0}};
	for (int k = 0; s->o.muscles && k < 4 && st >= 0; k++)
		st = add_channel(s, extra[k].label, extra[k].role, extra[k].side);
	return st < 0 ? st : 0;
}

/* ---- header, pauses ---- */

static void fill_header(psg_synth *s)
{
	psg_header *h = s->h;
	h->year = 2026, h->month = 1, h->day = 1, h->hour = 22;
	psg__strlcpy(h->file_type, "EDF+C", sizeof h->file_type);
	snprintf(h->patient_code, sizeof h->patient_code, "SYNTH-%llu",
		 (unsigned long long)s->o.seed);
	psg__strlcpy(h->sex, "X", sizeof h->sex);
	psg__strlcpy(h->patient_name, "Synthetic night", sizeof h->patient_name);
	psg__strlcpy(h->equipment, "psg-synth", sizeof h->equipment);
	snprintf(h->recording_additional, sizeof h->recording_additional,
		 "profile=%s seed=%llu version=%s", s->p->name,
		 (unsigned long long)s->o.seed, PSG_VERSION);
	h->duration = s->end;
	h->epoch_len = s->epoch_len;
}

static int by_gap_onset(const void *a, const void *b)
{
	const run *x = a, *y = b;
	return (x->onset > y->onset) - (x->onset < y->onset);
}

/* Pauses of 30 s to 10 min in whole seconds, away from both ends. */
static int plan_gaps(psg_synth *s)
{
	rng r;
	rng_init(&r, s->o.seed, "gaps", 0);
	if (s->o.gaps <= 0)
		return 0;
	if (!(s->gaps = calloc((size_t)s->o.gaps, sizeof *s->gaps)))
		return PSG_ERR_NOMEM;
	int64_t len = s->end / PSG_TICKS_PER_SEC;
	for (int tries = 0; s->ngaps < s->o.gaps && tries < 1000; tries++) {
		int64_t d = (int64_t)rng_range(&r, 30, 600);
		if (d > len / (4 * s->o.gaps))
			d = len / (4 * s->o.gaps);
		int64_t on = len / 10 + (int64_t)(rng_unif(&r) *
						   (double)(len * 8 / 10 - d));
		run g = {on * PSG_TICKS_PER_SEC, d * PSG_TICKS_PER_SEC, 0};
		int clash = d < 1;
		for (int i = 0; i < s->ngaps && !clash; i++)
			clash = g.onset < s->gaps[i].onset + s->gaps[i].dur +
				PSG_TICKS_PER_SEC && g.onset + g.dur +
				PSG_TICKS_PER_SEC > s->gaps[i].onset;
		if (!clash)
			s->gaps[s->ngaps++] = g;
	}
	qsort(s->gaps, (size_t)s->ngaps, sizeof *s->gaps, by_gap_onset);
	return 0;
}

/* ---- the API ---- */

static int setup(psg_synth *s, char *msg, size_t n)
{
	int st = 0;
	if (s->o.hypnogram && (st = synth_hyp_read(s, s->o.hypnogram, msg, n)))
		return st;
	if (s->o.hypnogram && s->o.hours <= 0) {
		const run *last = &s->hyp.r[s->hyp.n - 1];
		s->end = (last->onset + last->dur) / PSG_TICKS_PER_SEC *
			 PSG_TICKS_PER_SEC;
	}
	/* From a hypnogram file it is the file's fault (exit 2), not the
	   command line's (mutate.py found it as exit 1). */
	if (s->end < PSG_TICKS_PER_SEC && s->o.hypnogram && s->o.hours <= 0) {
		psg__set_msg(msg, n, "%s: the hypnogram lasts less than 1 s",
			     s->o.hypnogram);
		return PSG_ERR_FORMAT;
	}
	if (s->end < PSG_TICKS_PER_SEC) {
		psg__set_msg(msg, n, "the night would be shorter than 1 s");
		return PSG_ERR_ARG;
	}
	if (!s->o.hypnogram && (st = synth_hyp_generate(s)))
		return st;
	s->sleep_onset = INT64_MAX;
	for (size_t i = 0; i < s->hyp.n; i++)
		if (s->hyp.r[i].stage > PSG_STAGE_W) {
			s->sleep_onset = s->hyp.r[i].onset;
			break;
		}
	fill_header(s);
	if ((st = build_montage(s)) || (st = plan_gaps(s)) ||
	    (st = synth_render_init(s)))
		return st;
	if (s->ngaps)
		psg__strlcpy(s->h->file_type, "EDF+D", sizeof s->h->file_type);
	s->bufs = calloc((size_t)s->h->nchannels + 1, sizeof *s->bufs);
	for (int c = 0; s->bufs && c < s->h->nchannels; c++)
		if (!(s->bufs[c] = s->ch[c].buf = calloc((size_t)s->ch[c].rate,
							 sizeof(float))))
			return PSG_ERR_NOMEM;
	return s->bufs ? 0 : PSG_ERR_NOMEM;
}

static int check_opts(const psg_synth_opts *o, char *msg, size_t n)
{
	if (o->hours < 0 || o->hours > 24 * 14) {
		psg__set_msg(msg, n, "hours must be between 0 and 336");
		return PSG_ERR_ARG;
	}
	if ((o->eeg_rate && (o->eeg_rate < 50 || o->eeg_rate > 4096)) ||
	    (o->emg_rate && (o->emg_rate < 50 || o->emg_rate > 8192))) {
		psg__set_msg(msg, n, "rates must be 50-4096 Hz (EMG 8192)");
		return PSG_ERR_ARG;
	}
	if (o->nchannels < 0 || o->nchannels > 512 || o->gaps < 0 ||
	    o->gaps > 1000) {
		psg__set_msg(msg, n, "channels must be 1-512, gaps 0-1000");
		return PSG_ERR_ARG;
	}
	if (o->mains_hz > 0 && o->mains_hz != 50 && o->mains_hz != 60) {
		psg__set_msg(msg, n, "mains must be 50 or 60 Hz");
		return PSG_ERR_ARG;
	}
	return 0;
}

psg_synth *psg_synth_new(const psg_synth_opts *o, int *status, char *msg,
			 size_t msglen)
{
	psg_synth *s = calloc(1, sizeof *s);
	int st = s ? check_opts(o, msg, msglen) : PSG_ERR_NOMEM;
	if (s && !st) {
		s->o = *o;
		if (!(s->p = synth_profile(o->profile))) {
			psg__set_msg(msg, msglen, "unknown profile '%s'",
				     o->profile);
			st = PSG_ERR_ARG;
		}
	}
	if (s && !st) {
		if (!s->o.mains_hz)
			s->o.mains_hz = 50;
		s->eeg_rate = o->eeg_rate ? o->eeg_rate : 256;
		s->emg_rate = o->emg_rate ? o->emg_rate : 512;
		s->epoch_len = o->epoch_len > 0 ? o->epoch_len :
			       30 * PSG_TICKS_PER_SEC;
		s->end = (int64_t)((o->hours > 0 ? o->hours : o->hypnogram ?
				    0 : 8) * 3600) * PSG_TICKS_PER_SEC;
		rng_init(&s->r_cortex, o->seed, "cortex events", 0);
		rng_init(&s->r_arousal, o->seed, "arousals", 0);
		rng_init(&s->r_arousal_amp, o->seed, "arousal bursts", 0);
		rng_init(&s->r_awake, o->seed, "awakenings", 0);
		rng_init(&s->r_eyes, o->seed, "eyes", 0);
		rng_init(&s->r_legs, o->seed, "legs", 0);
		rng_init(&s->r_chin, o->seed, "chin", 0);
		rng_init(&s->r_muscles, o->seed, "muscles", 0);
		st = (s->h = psg_header_new()) ? setup(s, msg, msglen) :
		     PSG_ERR_NOMEM;
	}
	if (status)
		*status = st;
	if (st) {
		if (st == PSG_ERR_NOMEM)
			psg__set_msg(msg, msglen, "out of memory");
		psg_synth_free(s);
		return NULL;
	}
	return s;
}

void psg_synth_free(psg_synth *s)
{
	if (!s)
		return;
	if (s->h)
		for (int c = 0; c < s->h->nchannels; c++)
			free(s->ch[c].buf);
	free(s->ch);
	free(s->bufs);
	free(s->gaps);
	free(s->active.e);
	free(s->truth.e);
	free(s->epochs);
	synth_hyp_free(&s->hyp);
	synth_render_free(s);
	psg_header_free(s->h);
	free(s);
}

const psg_header *psg_synth_header(const psg_synth *s)
{
	return s->h;
}

/* Skips a pause: the recorder was off, nothing is rendered. */
static void skip_gaps(psg_synth *s)
{
	for (int i = 0; i < s->ngaps; i++)
		if (s->t >= s->gaps[i].onset &&
		    s->t < s->gaps[i].onset + s->gaps[i].dur)
			s->t = s->gaps[i].onset + s->gaps[i].dur;
}

int psg_synth_record(psg_synth *s, int64_t *onset, const float *const **x)
{
	skip_gaps(s);
	if (s->t + PSG_TICKS_PER_SEC > s->end)
		return 0;
	/* Everything that starts before this record ends is planned. */
	if (synth_plan_until(s, s->t + PSG_TICKS_PER_SEC))
		return PSG_ERR_NOMEM;
	evlist_prune(&s->active, s->t);
	synth_render_record(s);
	*onset = s->t;
	*x = (const float *const *)s->bufs;
	s->t += PSG_TICKS_PER_SEC;
	return 1;
}

int psg_synth_take_event(psg_synth *s, psg_truth_event *e)
{
	if (s->truth_head == s->truth.n) {
		s->truth_head = s->truth.n = 0;   /* drained: reuse */
		return 0;
	}
	const sevent *v = &s->truth.e[s->truth_head++];
	double value = 0;
	if (v->kind == EV_SLOW_WAVE || v->kind == EV_K_COMPLEX ||
	    v->kind == EV_SPINDLE || v->kind == EV_SEM)
		value = v->freq;
	else if (v->kind == EV_LM)
		value = (double)v->series;
	else if (v->kind == EV_PLM_SERIES || v->kind == EV_RMMA)
		value = v->freq;   /* series id; RMMA: number of bursts */
	else if (v->kind == EV_POP)
		value = v->freq;   /* decay time constant, s */
	else if (v->kind == EV_AROUSAL)
		value = v->freq;   /* the beta burst's peak-to-peak, uV */
	else if (v->kind == EV_SPASM || v->kind == EV_CRAMP)
		value = v->freq;   /* shape: 0 plateau, 1 waxing, 2 rising */
	*e = (psg_truth_event){.onset = v->onset, .duration = v->dur,
		.channel = v->chan, .kind = synth_kind_name(v->kind),
		.amplitude = v->amp, .value = value, .id = v->id};
	return 1;
}

int psg_synth_take_epoch(psg_synth *s, psg_truth_epoch *e)
{
	if (s->ep_head == s->nep) {
		s->ep_head = s->nep = 0;
		return 0;
	}
	*e = s->epochs[s->ep_head++];
	return 1;
}
