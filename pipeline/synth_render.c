/*
 * synth_render.c -- the samples of each 1-s record.
 *
 * EEG: two cortical sources, anterior (A) and posterior (P), each a 1/f
 * background plus band-limited noise in the delta, theta, alpha and beta
 * bands, with stage-dependent gains (table `gains`) that glide toward their
 * targets (0.3 s when an arousal switches them, 2 s otherwise).  Channels
 * mix the sources by position: frontal A + 0.25 P, central 0.7 A + 0.5 P,
 * occipital 0.3 A + P.  Slow waves and K-complexes add with weight 1 frontal,
 * 0.7 central, 0.4 occipital (frontal maximum: Happe et al. 2002); spindles
 * 0.8, 1, 0.5 (central maximum).  An arousal (AASM: an abrupt shift to
 * alpha, theta and >16 Hz) adds bursts of alpha (8-12 Hz) and beta (16-30
 * Hz) at the peak-to-peak amplitudes planned for it (20-40 and 15-30 uV on
 * the central derivation), with 0.3-s ramps; their noise has its own
 * stream, drawn at every sample, so the EEG outside arousals is unchanged.
 * EOG: horizontal movements in opposite polarity on E1/E2, blinks in the
 * same polarity, plus 35 % of the frontal EEG (its slow waves show there).
 * EMG: 10-100 Hz noise times an envelope: the stage's tone (chin) or the
 * resting floor (legs), plus each burst's amplitude with 50-ms ramps.
 * ECG: a PQRST template at 55-70 bpm with slow variability; it bleeds into
 * EMG and EEG at the profile's gain.  Artefacts last: mains, drift, pops,
 * saturation and flat (disconnected) channels.
 */
#include "synth.h"

#include <stdlib.h>
#include <string.h>

/* Target RMS (uV) of each band per stage, for the A and P sources. */
static const double gains[5][2][B_NBANDS] = {
	/*        bg  delta theta alpha beta */
	[PSG_STAGE_W] = {{6, 3, 3, 4, 5}, {6, 3, 3, 14, 4}},
	[PSG_STAGE_N1] = {{7, 5, 8, 2, 3}, {7, 5, 7, 3, 2}},
	[PSG_STAGE_N2] = {{8, 10, 6, 1, 2}, {8, 7, 5, 1.5, 1.5}},
	[PSG_STAGE_N3] = {{8, 14, 5, 1, 1.5}, {8, 10, 4, 1, 1}},
	[PSG_STAGE_R] = {{6, 4, 8, 2, 4}, {6, 4, 7, 4, 3}},
};
/* An arousal: alpha, theta and beta up, delta down (AASM). */
static const double arousal_mult[B_NBANDS] = {1, 0.4, 1.5, 3, 2.5};
/* Chin tone (uV RMS) per stage: atonia in REM (Ferri et al. 2008). */
static const double chin_tone[5] = {10, 6, 4.5, 4, 1.2};
/* The other muscles' resting floor (uV RMS), whatever the stage. */
static const double muscle_floor = 2.5;

/* ---- filters ---- */

static void biquad_norm(biquad *q)
{
	/* Unit RMS for unit white input, measured once on fixed noise. */
	rng r;
	double ss = 0;
	rng_init(&r, 12345, "norm", 0);
	biquad c = *q;
	for (int i = 0; i < 40000; i++) {
		double y = biquad_run(&c, rng_white(&r));
		if (i >= 10000)
			ss += y * y;
	}
	q->norm = ss > 0 ? 1 / sqrt(ss / 30000) : 1;
}

static void biquad_set(biquad *q, double b0, double b1, double b2, double a0,
		       double a1, double a2)
{
	*q = (biquad){b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0, 0, 0, 1};
	biquad_norm(q);
}

void biquad_bandpass(biquad *q, double rate, double f0, double Q)
{
	double w = TWO_PI * f0 / rate, al = sin(w) / (2 * Q);
	biquad_set(q, al, 0, -al, 1 + al, -2 * cos(w), 1 - al);
}

void biquad_lowpass(biquad *q, double rate, double f0, double Q)
{
	double w = TWO_PI * f0 / rate, al = sin(w) / (2 * Q), c = cos(w);
	biquad_set(q, (1 - c) / 2, 1 - c, (1 - c) / 2, 1 + al, -2 * c, 1 - al);
}

/* ---- sources ---- */

static void source_init(source *src, uint64_t seed, int k, double rate)
{
	static const double pink_fc[4] = {0.5, 2, 8, 32};
	rng_init(&src->r, seed, "cortex", k);
	biquad_lowpass(&src->bq[B_BG], rate, 40 < rate / 2.5 ? 40 : rate / 2.5,
		       0.7);
	biquad_bandpass(&src->bq[B_DELTA], rate, 1.5, 0.8);
	biquad_bandpass(&src->bq[B_THETA], rate, 6, 2);
	biquad_bandpass(&src->bq[B_ALPHA], rate, 10, 5);
	biquad_bandpass(&src->bq[B_BETA], rate, rate > 60 ? 20 : rate / 3, 1.5);
	for (int i = 0; i < 4; i++)
		src->pink_a[i] = exp(-TWO_PI * pink_fc[i] / rate);
}

/* One sample of a source; `target` are the band gains it glides to. */
static double source_step(source *src, const double *target, double glide)
{
	/* 1/f from 0.5 to 32 Hz: one-pole low-passes two octaves apart, of
	   gain 1/sqrt(fc) so that each adds the same power (gain^2 x fc),
	   which is the same power per octave (Pritchard 1992 on EEG's 1/f
	   background).  Scaled to the level the background had at 1 Hz. */
	double w = rng_white(&src->r), pink = 0;
	for (int i = 0; i < 4; i++) {
		src->pink[i] = src->pink_a[i] * src->pink[i] +
			       (1 - src->pink_a[i]) * w;
		pink += src->pink[i] * 8.16 / (1 << i);
	}
	double out = src->gain[B_BG] * biquad_run(&src->bq[B_BG], pink) *
		     src->bq[B_BG].norm * 0.35;
	for (int b = 0; b < B_NBANDS; b++) {
		src->gain[b] += (target[b] - src->gain[b]) * glide;
		if (b != B_BG)
			out += src->gain[b] * src->bq[b].norm *
			       biquad_run(&src->bq[b], rng_white(&src->r));
	}
	return out;
}

/* ---- ECG ---- */

/* PQRST as Gaussians around the R peak (McSharry et al. 2003, simplified):
   offset s, width s, amplitude uV. */
static const double pqrst[5][3] = {{-0.20, 0.025, 150}, {-0.03, 0.010, -100},
	{0.00, 0.012, 1000}, {0.03, 0.012, -250}, {0.25, 0.050, 300}};

/* Keeps the R peaks from t0 - 1 s to t0 + 2 s: every wave of a beat lies
   within 0.5 s of its peak, so that covers the record. */
static void ecg_beats(psg_synth *s, double t0)
{
	int k = 0;
	for (int i = 0; i < s->nbeats; i++)
		if (s->beats[i] >= t0 - 1)
			s->beats[k++] = s->beats[i];
	s->nbeats = k;
	double last = k ? s->beats[k - 1] : t0 - 1;
	while (last < t0 + 2 && s->nbeats < 16) {
		double hr = 62 + 5 * sin(TWO_PI * last / 300) +
			    3 * sin(TWO_PI * last / 23) +
			    rng_normal(&s->ecg_rng);
		last += 60 / hr;
		s->beats[s->nbeats++] = last;
	}
}

/* The record's ECG at one rate, beat by beat: each wave only touches the
   samples within five widths of its centre. */
static void ecg_fill(const psg_synth *s, int rate, double *out)
{
	double t0 = (double)s->t / TICKS_D;
	memset(out, 0, sizeof *out * (size_t)rate);
	for (int k = 0; k < s->nbeats; k++)
		for (int w = 0; w < 5; w++) {
			double c = s->beats[k] + pqrst[w][0], wd = pqrst[w][1];
			int a = (int)ceil((c - 5 * wd - t0) * rate);
			int b = (int)floor((c + 5 * wd - t0) * rate);
			a = a < 0 ? 0 : a;
			b = b >= rate ? rate - 1 : b;
			for (int i = a; i <= b; i++) {
				double d = (t0 + (double)i / rate - c) / wd;
				out[i] += pqrst[w][2] * exp(-0.5 * d * d);
			}
		}
}

static struct ratebuf *rate_buf(psg_synth *s, int rate)
{
	for (int i = 0; i < s->nrb; i++)
		if (s->rb[i].rate == rate)
			return &s->rb[i];
	return NULL;
}

/* ECG and mains phase for every rate in use, once per record. */
static void fill_rate_bufs(psg_synth *s)
{
	double t0 = (double)s->t / TICKS_D;
	for (int i = 0; i < s->nrb; i++) {
		struct ratebuf *b = &s->rb[i];
		ecg_fill(s, b->rate, b->ecg);
		for (int k = 0; k < b->rate; k++) {
			double ph = TWO_PI * s->o.mains_hz *
				    (t0 + (double)k / b->rate);
			b->msin[k] = sin(ph);
			b->mcos[k] = cos(ph);
		}
	}
}

/* ---- event shapes ---- */

/* Trapezoid with cosine ramps of `ramp` s, for EMG bursts. */
static double burst_shape(double tau, double d, double ramp)
{
	if (tau < 0 || tau >= d)
		return 0;
	if (ramp > d / 2)
		ramp = d / 2;
	if (tau < ramp)
		return 0.5 - 0.5 * cos(TWO_PI / 2 * tau / ramp);
	if (tau > d - ramp)
		return 0.5 - 0.5 * cos(TWO_PI / 2 * (d - tau) / ramp);
	return 1;
}

static double hann(double tau, double d)
{
	return tau < 0 || tau >= d ? 0 : 0.5 - 0.5 * cos(TWO_PI * tau / d);
}

/* A slow wave: a negative half-sine (the down-state) then a positive one,
   peak to peak `amp`, the negative peak 60 % of it. */
static double wave_shape(const sevent *e, double tau, double d)
{
	double dn = e->split * d, dp = d - dn;
	if (tau < 0 || tau >= d)
		return 0;
	if (tau < dn)
		return -0.6 * e->amp * sin(TWO_PI / 2 * tau / dn);
	return 0.4 * e->amp * sin(TWO_PI / 2 * (tau - dn) / dp);
}

/* Index range [*i0, *i1) of the record's samples at `rate` that an event
   covers; 0 if none. */
static int span(const psg_synth *s, const sevent *e, int rate, int *i0,
		int *i1)
{
	int64_t a = e->onset - s->t, b = e->onset + e->dur - s->t;
	if (b <= 0 || a >= PSG_TICKS_PER_SEC)
		return 0;
	*i0 = a <= 0 ? 0 : (int)((a * rate + PSG_TICKS_PER_SEC - 1) /
				 PSG_TICKS_PER_SEC);
	*i1 = b >= PSG_TICKS_PER_SEC ? rate :
	      (int)((b * rate + PSG_TICKS_PER_SEC - 1) / PSG_TICKS_PER_SEC);
	return *i1 > *i0;
}

/* Seconds from an event's onset to sample i of the record. */
static double tau_of(const psg_synth *s, const sevent *e, int i, int rate)
{
	return (double)(s->t - e->onset) / TICKS_D + (double)i / rate;
}

/* ---- the cortex, eyes and arousals of a record ---- */

static void render_events_eeg(psg_synth *s)
{
	int rate = s->eeg_rate, i0, i1;
	memset(s->tmp_sw, 0, sizeof *s->tmp_sw * rate);
	memset(s->tmp_sp, 0, sizeof *s->tmp_sp * rate);
	memset(s->tmp_eye, 0, sizeof *s->tmp_eye * 2 * rate);
	memset(s->arousal, 0, sizeof *s->arousal * rate);
	memset(s->ar_alpha, 0, sizeof *s->ar_alpha * rate);
	memset(s->ar_beta, 0, sizeof *s->ar_beta * rate);
	for (size_t k = 0; k < s->active.n; k++) {
		const sevent *e = &s->active.e[k];
		if (!span(s, e, rate, &i0, &i1))
			continue;
		double d = (double)e->dur / TICKS_D;
		for (int i = i0; i < i1; i++) {
			double tau = tau_of(s, e, i, rate);
			switch (e->kind) {
			case EV_SLOW_WAVE:
			case EV_K_COMPLEX:
				s->tmp_sw[i] += wave_shape(e, tau, d);
				break;
			case EV_SPINDLE:
				s->tmp_sp[i] += e->amp / 2 * hann(tau, d) *
						sin(TWO_PI * e->freq * tau);
				break;
			case EV_SEM:
				s->tmp_eye[i] += e->amp / 2 * hann(tau, d) *
						 sin(TWO_PI * e->freq * tau);
				break;
			case EV_REM:   /* fast saccade, slower return */
				s->tmp_eye[i] += e->split * e->amp / 2 *
					(tau < 0.05 ? tau / 0.05 :
					 1 - (tau - 0.05) / (d - 0.05));
				break;
			case EV_BLINK:
				s->tmp_eye[rate + i] += e->amp * hann(tau, d);
				break;
			case EV_AROUSAL: {
				/* p2p of a sine to RMS; 0.3-s ramps */
				double g = burst_shape(tau, d, 0.3) / 2.828427;
				s->arousal[i] = 1;
				s->ar_alpha[i] += e->amp * g;
				s->ar_beta[i] += e->freq * g;
				break;
			}
			}
		}
	}
}

static void render_sources(psg_synth *s, int stage)
{
	const double (*g)[B_NBANDS] = gains[stage < 0 ? 0 : stage];
	int rate = s->eeg_rate;
	double slow = 1 - exp(-1 / (2.0 * rate)), fast = 1 - exp(-1 / (0.3 * rate));
	for (int i = 0; i < rate; i++) {
		double ta[B_NBANDS], tp[B_NBANDS];
		int ar = s->arousal[i] > 0;
		for (int b = 0; b < B_NBANDS; b++) {
			double m = ar ? arousal_mult[b] : 1;
			ta[b] = g[0][b] * m;
			tp[b] = g[1][b] * m;
		}
		/* Abrupt shifts for arousals, gentle drifts otherwise. */
		double glide = ar || s->src[0].gain[B_ALPHA] > ta[B_ALPHA] * 1.5 ?
			       fast : slow;
		s->tmp_a[i] = source_step(&s->src[0], ta, glide);
		s->tmp_p[i] = source_step(&s->src[1], tp, glide);
		/* The arousal's alpha and beta bursts, in both sources so that
		   the central mix (0.7 A + 0.5 P) carries them at their drawn
		   amplitude; exactly 0 outside arousals. */
		double b = 0;
		for (int k = 0; k < 2; k++) {
			biquad *q = &s->burst_bq[k];
			double x = q->norm * biquad_run(q, rng_white(&s->burst_rng));
			b += (k ? s->ar_beta[i] : s->ar_alpha[i]) * x;
		}
		s->tmp_a[i] += b / 1.2;
		s->tmp_p[i] += b / 1.2;
	}
}

/* ---- channels ---- */

/* A spasm's or cramp's course (docs/synth.md): 0 a plateau; 1 waxing and
   waning, 0.35-1 of its amplitude with a period of `split` s; 2 a cramp
   that sets in at 0.4 and rises to its full amplitude over the first
   `split` of its length. */
static double spasm_shape(const sevent *e, double tau, double d)
{
	if (e->kind != EV_SPASM && e->kind != EV_CRAMP)
		return 1;
	if (e->freq == 1)
		return 0.675 + 0.325 * cos(TWO_PI * tau / e->split);
	if (e->freq == 2)
		return 0.4 + 0.6 * fmin(1, tau / (e->split * d));
	return 1;
}

static void add_lmgm_and_bursts(psg_synth *s, int c, double *env, int rate)
{
	int i0, i1;
	for (size_t k = 0; k < s->active.n; k++) {
		const sevent *e = &s->active.e[k];
		int mine = e->chan == c && (e->kind == EV_LM ||
			e->kind == EV_SPASM || e->kind == EV_TWITCH ||
			e->kind == EV_RMMA_BURST || e->kind == EV_CRAMP);
		int lmgm = e->kind == EV_LMGM && s->ch[c].role >= R_CHIN &&
			   s->ch[c].role <= R_MUSCLE;
		int masseter = e->kind == EV_RMMA_BURST &&
			       s->ch[c].role == R_MASSETER;
		if (!(mine || lmgm || masseter) || !span(s, e, rate, &i0, &i1))
			continue;
		double d = (double)e->dur / TICKS_D;
		double ramp = e->kind == EV_TWITCH ? 0.02 : e->kind == EV_SPASM ?
			      1.0 : 0.05;
		for (int i = i0; i < i1; i++) {
			double tau = tau_of(s, e, i, rate);
			env[i] += e->amp * burst_shape(tau, d, ramp) *
				  spasm_shape(e, tau, d);
		}
	}
}

static int arousal_at(const psg_synth *s, int64_t t)
{
	for (size_t k = 0; k < s->active.n; k++) {
		const sevent *e = &s->active.e[k];
		if (e->kind == EV_AROUSAL && t >= e->onset &&
		    t < e->onset + e->dur)
			return 1;
	}
	return 0;
}

static void render_emg(psg_synth *s, int c, int stage, double *env)
{
	chan_model *m = &s->ch[c];
	int rate = m->rate, st = stage < 0 ? 0 : stage;
	double tone = m->role == R_CHIN || m->role == R_MASSETER ?
		      chin_tone[st] : m->role == R_MUSCLE ? muscle_floor :
		      s->p->leg_floor;
	if (m->role == R_MASSETER)
		tone *= 0.8;
	for (int i = 0; i < rate; i++)
		env[i] = tone;
	if (m->role == R_CHIN && arousal_at(s, s->t + PSG_TICKS_PER_SEC / 2))
		for (int i = 0; i < rate; i++)
			env[i] *= stage == PSG_STAGE_R ? 3 : 1.5;
	add_lmgm_and_bursts(s, c, env, rate);
	double bleed = s->p->ecg_bleed_uv / 1000 *
		       (m->role == R_CHIN ? 0.5 : 1);
	const double *ecg = rate_buf(s, rate)->ecg;
	for (int i = 0; i < rate; i++) {
		double v = env[i] * m->emg.norm *
			   biquad_run(&m->emg, rng_white(&m->r));
		m->buf[i] = (float)(v + bleed * ecg[i]);
	}
}

static void render_eeg(psg_synth *s, int c)
{
	chan_model *m = &s->ch[c];
	int rate = m->rate, eog = m->role == R_EOG_L || m->role == R_EOG_R;
	double sign = m->role == R_EOG_R ? -1 : 1;
	double bleed = s->p->ecg_bleed_uv / 1000 * 0.3;
	const double *ecg = rate_buf(s, rate)->ecg;
	for (int i = 0; i < rate; i++) {
		double v = m->mix_a * s->tmp_a[i] + m->mix_p * s->tmp_p[i] +
			   m->sw_w * s->tmp_sw[i] + m->sp_w * s->tmp_sp[i] +
			   2 * rng_white(&m->r);
		if (eog)
			v += sign * s->tmp_eye[i] + s->tmp_eye[rate + i];
		m->buf[i] = (float)(v + bleed * ecg[i]);
	}
}

static void render_other(psg_synth *s, int c)
{
	chan_model *m = &s->ch[c];
	for (int i = 0; i < m->rate; i++) {
		double v = 0;
		switch (m->role) {
		case R_ECG:
			v = rate_buf(s, m->rate)->ecg[i] + 5 * rng_white(&m->r);
			break;
		case R_THOR:
		case R_ABDO:
		case R_FLOW: {
			/* Breathing at 12-16/min; the phase advances with
			   the fastest of these channels' rate. */
			double ph = s->resp_phase + TWO_PI * 0.23 * i / m->rate;
			v = m->role == R_THOR ? 300 * sin(ph) : m->role ==
			    R_ABDO ? 250 * sin(ph - 0.3) : 80 * cos(ph);
			v += 5 * rng_white(&m->r);
			break;
		}
		case R_SPO2:
			s->spo2 += 0.05 * (96 - s->spo2) +
				   0.2 * rng_white(&s->resp_rng);
			v = s->spo2;
			break;
		}
		m->buf[i] = (float)v;
	}
}

/* Mains, drift, LMGM in EEG, pops, saturation and flat: last, because a
   saturated or disconnected channel overrides whatever it would carry. */
static void render_artefacts(psg_synth *s, int c, int stage)
{
	chan_model *m = &s->ch[c];
	const psg_channel *pc = &s->h->channels[c];
	int rate = m->rate, i0, i1, cortical = m->role <= R_EOG_R;
	int muscle = m->role >= R_CHIN && m->role <= R_MUSCLE;
	const struct ratebuf *rb = rate_buf(s, rate);
	double ms = m->mains_amp * cos(m->mains_phase);
	double mc = m->mains_amp * sin(m->mains_phase);
	for (int i = 0; (cortical || muscle) && i < rate; i++) {
		/* sin(wt + phase) from the shared sin(wt), cos(wt) */
		double v = ms * rb->msin[i] + mc * rb->mcos[i];
		if (cortical) {
			m->drift = m->drift_a * m->drift +
				   (1 - m->drift_a) * 30 * rng_white(&m->r);
			v += m->drift * s->p->drift_uv / 3;
		}
		/* Sweat: a slow sway of the electrodes' potential in NREM
		   (drawn only when the profile has it: other nights keep
		   their noise). */
		if (cortical && s->p->sweat_uv > 0) {
			/* the low-pass keeps it below 0.5 Hz: a band-pass
			   alone falls off slowly and leaks into the delta
			   band */
			double x = biquad_run(&m->sweat_lp, m->sweat.norm *
					      biquad_run(&m->sweat,
							 rng_white(&m->art)));
			int nrem = stage == PSG_STAGE_N2 || stage == PSG_STAGE_N3;
			v += nrem * s->p->sweat_uv * x;
		}
		m->buf[i] += (float)v;
	}
	for (size_t k = 0; k < s->active.n; k++) {
		const sevent *e = &s->active.e[k];
		int here = e->chan == c || (e->kind == EV_LMGM && cortical);
		if (!here || !span(s, e, rate, &i0, &i1))
			continue;
		for (int i = i0; i < i1; i++) {
			double tau = tau_of(s, e, i, rate);
			if (e->kind == EV_POP)
				m->buf[i] += (float)(e->amp * exp(-tau / e->freq));
			else if (e->kind == EV_SATURATION)
				m->buf[i] = (float)pc->phys_max;
			else if (e->kind == EV_FLAT)
				m->buf[i] = 0;
			else if (e->kind == EV_LMGM)
				m->buf[i] += (float)(0.5 * e->amp *
						     rng_white(&m->r));
		}
	}
}

void synth_render_record(psg_synth *s)
{
	int stage = synth_stage_at(&s->hyp, s->t + PSG_TICKS_PER_SEC / 2);
	ecg_beats(s, (double)s->t / TICKS_D);
	fill_rate_bufs(s);
	render_events_eeg(s);
	render_sources(s, stage);
	double *env = s->env;
	for (int c = 0; c < s->h->nchannels; c++) {
		int role = s->ch[c].role;
		if (role <= R_EOG_R)
			render_eeg(s, c);
		else if (role <= R_MUSCLE)
			render_emg(s, c, stage, env);
		else
			render_other(s, c);
		render_artefacts(s, c, stage);
	}
	s->resp_phase = fmod(s->resp_phase + TWO_PI * 0.23, TWO_PI);
}

int synth_render_init(psg_synth *s)
{
	int er = s->eeg_rate, maxr = s->emg_rate > er ? s->emg_rate : er;
	for (int k = 0; k < 2; k++)
		source_init(&s->src[k], s->o.seed, k, er);
	s->tmp_a = calloc((size_t)er, sizeof *s->tmp_a);
	s->tmp_p = calloc((size_t)er, sizeof *s->tmp_p);
	s->tmp_sw = calloc((size_t)er, sizeof *s->tmp_sw);
	s->env = calloc((size_t)maxr, sizeof *s->env);
	s->tmp_sp = calloc((size_t)er, sizeof *s->tmp_sp);
	s->tmp_eye = calloc((size_t)(2 * er), sizeof *s->tmp_eye);
	s->arousal = calloc((size_t)er, sizeof *s->arousal);
	for (int c = 0; c < s->h->nchannels; c++) {
		int r = s->ch[c].rate;
		if (rate_buf(s, r) || s->nrb == 8)
			continue;
		struct ratebuf *b = &s->rb[s->nrb++];
		b->rate = r;
		b->ecg = calloc((size_t)r, sizeof *b->ecg);
		b->msin = calloc((size_t)r, sizeof *b->msin);
		b->mcos = calloc((size_t)r, sizeof *b->mcos);
		if (!b->ecg || !b->msin || !b->mcos)
			return PSG_ERR_NOMEM;
	}
	rng_init(&s->burst_rng, s->o.seed, "arousal burst noise", 0);
	biquad_bandpass(&s->burst_bq[0], er, 10, 2.5);        /* 8-12 Hz */
	biquad_bandpass(&s->burst_bq[1], er, er > 66 ? 22 : er / 3.0, 1.6);
	s->ar_alpha = calloc((size_t)er, sizeof *s->ar_alpha);
	s->ar_beta = calloc((size_t)er, sizeof *s->ar_beta);
	rng_init(&s->ecg_rng, s->o.seed, "ecg", 0);
	rng_init(&s->resp_rng, s->o.seed, "resp", 0);
	s->spo2 = 96;
	if (!s->tmp_a || !s->tmp_p || !s->tmp_sw || !s->tmp_sp ||
	    !s->tmp_eye || !s->arousal || !s->ar_alpha || !s->ar_beta ||
	    !s->env)
		return PSG_ERR_NOMEM;
	return 0;
}

void synth_render_free(psg_synth *s)
{
	free(s->tmp_a);
	free(s->tmp_p);
	free(s->tmp_sw);
	free(s->tmp_sp);
	free(s->tmp_eye);
	free(s->arousal);
	free(s->ar_alpha);
	free(s->ar_beta);
	free(s->env);
	for (int i = 0; i < s->nrb; i++) {
		free(s->rb[i].ecg);
		free(s->rb[i].msin);
		free(s->rb[i].mcos);
	}
}
