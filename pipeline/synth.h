/*
 * synth.h -- the generator of nights behind psg-synth, shared by its files:
 *
 *   synth.c         the public API, montage and profiles
 *   synth_hyp.c     the hypnogram: generated cycles, or read from a file
 *   synth_plan.c    events planned epoch by epoch, with their ground truth
 *   synth_render.c  the signals of each 1-s record from stage and events
 *
 * Time flows one way: the planner stays one epoch ahead of the renderer,
 * and both keep only what is still active, so memory does not grow with
 * the night (the hypnogram's runs excepted: a few hundred a night).
 * The models and their parameters are documented in docs/synth.md.
 */
#ifndef PSG_SYNTH_H
#define PSG_SYNTH_H

#include "internal.h"
#include "rng.h"

#define TWO_PI 6.283185307179586
#define TICKS_D 1e7

/* What a channel is; the models mix their sources by role. */
enum role {
	R_EEG_F, R_EEG_C, R_EEG_O, R_EEG_OTHER,
	R_EOG_L, R_EOG_R,
	R_CHIN, R_LEG_L, R_LEG_R, R_MASSETER, R_MUSCLE,  /* EMG */
	R_ECG, R_THOR, R_ABDO, R_FLOW, R_SPO2,
	R_NROLES
};

/* Event kinds: all of them are ground truth; names in synth_plan.c. */
enum ev_kind {
	EV_SLOW_WAVE, EV_K_COMPLEX, EV_SPINDLE, EV_AROUSAL, EV_AWAKENING,
	EV_SEM, EV_REM, EV_BLINK, EV_LM, EV_PLM_SERIES, EV_SPASM, EV_TWITCH,
	EV_RMMA, EV_RMMA_BURST, EV_LMGM, EV_POP, EV_SATURATION, EV_FLAT,
	EV_CRAMP, EV_NKINDS
};

typedef struct sevent {
	int kind;
	int64_t onset, dur;      /* ticks */
	int chan;                /* channel index, -1: by role (see render) */
	double amp;              /* uV: p2p (waves), RMS (EMG), step (pop) */
	double freq;             /* Hz (waves, spindles, SEM); tau s (pop) */
	double split;            /* negative lobe share of a wave's length;
				    a waxing spasm's period, s */
	int64_t id, series;
} sevent;

typedef struct evlist {
	sevent *e;
	size_t n, cap;
} evlist;

int evlist_push(evlist *l, const sevent *e);
/* Drops events that end before t (ticks). */
void evlist_prune(evlist *l, int64_t t);

typedef struct run {
	int64_t onset, dur;      /* ticks */
	int stage;
} run;

typedef struct hypnogram {
	run *r;
	size_t n, cap;
	size_t cursor;           /* lookups move forward in time */
} hypnogram;

/* The knobs of a profile (docs/synth.md gives values and sources). */
typedef struct profile {
	const char *name;
	double sol_min;          /* median sleep-onset latency, min */
	double wake_per_h;       /* awakenings per hour of sleep */
	double wake_min;         /* median awakening length, min */
	double n3_scale;         /* scales the N3 of each cycle */
	double arousal_per_h;
	double lm_per_h;         /* isolated LMs per hour of sleep */
	double plm_series_per_h; /* PLM series per hour of NREM sleep */
	double spasm_per_h;
	double rmma_per_h;
	double leg_twitch_per_h;
	double chin_twitch_per_min;  /* in REM */
	double leg_floor;        /* uV RMS at rest */
	double mains_uv;
	double ecg_bleed_uv;     /* into leg and chin EMG */
	double pop_per_h, saturation_per_h, flat_per_h;
	double drift_uv;
	/* NREM's cortical stressors (issue 17; healthy: 120, 40-350 uV, N2
	   coverage up to 10 % with 40 % K-complexes, no sweat, no movement) */
	double sw_uv, sw_lo, sw_hi;  /* N3 slow waves: median and bounds, uV */
	double n2_cover;         /* N2's wave coverage at most (share) */
	double kc_share;         /* of N2's waves, the K-complexes */
	double sweat_uv;         /* NREM 0.1-0.5 Hz sway, uV RMS */
	double nrem_moves_per_h; /* movement artefacts in NREM */
} profile;

const profile *synth_profile(const char *name);

/* Second-order IIR section (RBJ cookbook), for band-limited noise. */
typedef struct biquad {
	double b0, b1, b2, a1, a2, z1, z2;
	double norm;             /* output scale to unit RMS on white input */
} biquad;

void biquad_bandpass(biquad *q, double rate, double f0, double Q);
void biquad_lowpass(biquad *q, double rate, double f0, double Q);
static inline double biquad_run(biquad *q, double x)
{
	double y = q->b0 * x + q->z1;
	q->z1 = q->b1 * x - q->a1 * y + q->z2;
	q->z2 = q->b2 * x - q->a2 * y;
	return y;
}

/* One cortical source (anterior or posterior): 1/f background plus
   resonators for the classical bands, with gains that follow the stage. */
enum band { B_BG, B_DELTA, B_THETA, B_ALPHA, B_BETA, B_NBANDS };
typedef struct source {
	rng r;
	biquad bq[B_NBANDS];
	double pink[4];          /* one-pole states of the 1/f background */
	double pink_a[4];
	double gain[B_NBANDS];   /* current, smoothed toward the target */
	double out;
} source;

typedef struct chan_model {
	int role, side;          /* side: 0 left/odd, 1 right/even */
	int rate;
	rng r;                   /* its noise, keyed by its label */
	rng art;                 /* its artefacts, keyed by its label */
	biquad emg;              /* EMG band */
	double mains_amp, mains_phase;
	double drift, drift_a;
	biquad sweat, sweat_lp;  /* NREM sway: 0.2-Hz band-pass, 0.35 low-pass */
	double mix_a, mix_p;     /* weights of the two cortical sources */
	double sw_w, sp_w;       /* weights of slow waves and spindles */
	float *buf;
} chan_model;

struct psg_synth {
	psg_synth_opts o;
	const profile *p;
	psg_header *h;
	chan_model *ch;
	float **bufs;
	int64_t t;               /* ticks: start of the next record */
	int64_t end;             /* ticks: end of the night */
	int64_t epoch_len;
	hypnogram hyp;
	int64_t sleep_onset;     /* ticks; INT64_MAX when never asleep */
	run *gaps;               /* recording pauses */
	int ngaps;
	/* One stream per family of events, so that what one family draws
	   (or skips for a missing channel) never shifts another. */
	rng r_cortex, r_arousal, r_awake, r_eyes, r_legs, r_chin, r_muscles;
	rng r_arousal_amp;       /* each arousal's burst amplitudes */
	int64_t arousal_end;     /* ticks: end of the latest arousal */
	int64_t planned;         /* ticks: events planned up to here */
	int64_t next_id, next_series;
	evlist active;           /* events the renderer still needs */
	evlist truth;            /* truth events not yet taken */
	size_t truth_head;
	psg_truth_epoch *epochs; /* truth epochs not yet taken */
	size_t nep, ep_head, ep_cap;
	source src[2];           /* anterior, posterior */
	int eeg_rate, emg_rate;
	double *tmp_a, *tmp_p, *tmp_sw, *tmp_sp, *tmp_eye;  /* per record */
	double *arousal;         /* 1 where an arousal is on, per EEG sample */
	double *ar_alpha, *ar_beta;  /* its bursts' RMS (uV, ramped) */
	/* The arousal bursts' band-limited noise: its own stream, drawn at
	   every EEG sample whether an arousal is on or not, so that the
	   bursts never shift the cortex's draws. */
	rng burst_rng;
	biquad burst_bq[2];      /* alpha 8-12 Hz, beta 16-30 Hz */
	double *env;             /* an EMG envelope, per EMG sample */
	/* ECG: R-peak times from 1 s before to 2 s after the record */
	double beats[16];
	int nbeats;
	/* Per record and per distinct rate: ECG, and sin/cos of the mains
	   phase, shared by every channel at that rate. */
	struct ratebuf {
		int rate;
		double *ecg, *msin, *mcos;
	} rb[8];
	int nrb;
	rng ecg_rng;
	int64_t series_busy_until;   /* no new PLM series before this */
	double resp_phase;
	rng resp_rng;
	double spo2;
};

/* synth_hyp.c */
int synth_hyp_generate(psg_synth *s);
int synth_hyp_read(psg_synth *s, const char *path, char *msg, size_t n);
int synth_stage_at(hypnogram *h, int64_t t);
void synth_hyp_free(hypnogram *h);

/* synth_plan.c */
const char *synth_kind_name(int kind);
int synth_plan_until(psg_synth *s, int64_t t);

/* synth_render.c */
int synth_render_init(psg_synth *s);
void synth_render_record(psg_synth *s);
void synth_render_free(psg_synth *s);

#endif
