/* roles.c -- what a channel is for (EEG, EOG, chin, leg, masseter, ECG,
 * another muscle), from its label: the one table of vendor spellings that every detector
 * and psg-night use, and the pickers built on it.
 *
 * Labels are compared in lower case with '_' read as '-' (NSRR's
 * harmonised EDFs write "C4_M1"), so "CHIN1-CHIN2", "Chin1_Chin2" and
 * "chin1-chin2" are one spelling.  Only channels in µV can take a role:
 * exports carry impedance channels under the same names ("C4-M1 (Imp)",
 * in Ohm, in Nox files). */
#include "internal.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* First match wins, so the order matters: "Leg EMG" is a leg before
   "*emg*" could make it a chin, "ECG" never an EEG.  Examples name the
   export each spelling comes from (tests/unit/test_roles.c has one
   case per spelling). */
static const struct { const char *glob, *role; } spellings[] = {
	{"*ecg*", PSG_ROLE_ECG}, {"*ekg*", PSG_ROLE_ECG},   /* all; MESA EKG */
	{"*leg*", PSG_ROLE_LEG},          /* Nox "Left Leg", Natus "LLEG1-LLEG2",
					     Alice "Leg 1", NSRR "LLEG" */
	{"*tib*", PSG_ROLE_LEG},          /* "Tibialis L" */
	{"*jambe*", PSG_ROLE_LEG},        /* French Nox exports */
	{"plm*", PSG_ROLE_LEG},           /* SomnoMedics "PLM l", "PLMr" */
	{"*[ -]plm*", PSG_ROLE_LEG},      /* "EMG PLM l" */
	{"lat", PSG_ROLE_LEG}, {"rat", PSG_ROLE_LEG},     /* anterior tibialis */
	{"lat[ -]*", PSG_ROLE_LEG}, {"rat[ -]*", PSG_ROLE_LEG},
	{"*masset*", PSG_ROLE_MASSETER},  /* "Masseter L" */
	{"*chin*", PSG_ROLE_CHIN},        /* Natus "Chin1-Chin2", Alice "EMG Chin",
					     NSRR "chin", "LChin-CChin" */
	{"*subm*", PSG_ROLE_CHIN},        /* Sleep-EDF "EMG submental" */
	{"*mental*", PSG_ROLE_CHIN},      /* "Mentalis" */
	{"emg", PSG_ROLE_CHIN},           /* Compumedics (SHHS, MESA), Alice,
					     BrainProducts */
	{"emg[123]", PSG_ROLE_CHIN},      /* SomnoMedics, BrainProducts */
	{"emg[123]-emg[123]", PSG_ROLE_CHIN},
	{"[12]-[12f]", PSG_ROLE_CHIN},    /* Nox chin "1-2", "1-F", "2-F" */
	{"*eog*", PSG_ROLE_EOG},          /* Sleep-EDF "EOG horizontal", SHHS
					     "EOG(L)", MESA "EOG-L" */
	{"loc*", PSG_ROLE_EOG}, {"roc*", PSG_ROLE_EOG},   /* Natus, NSRR */
	{"e[12]", PSG_ROLE_EOG},          /* Nox, AASM "E1-M2" */
	{"e[12]-*", PSG_ROLE_EOG},
	{"*horiz*", PSG_ROLE_EOG},
	{"eeg*", PSG_ROLE_EEG},           /* SHHS "EEG", "EEG(sec)"; MESA "EEG1" */
};

/* The label as the table reads it: lower case, '_' as '-'. */
static void normalise(const char *label, char *out, size_t n)
{
	size_t i = 0;
	for (; label[i] && i + 1 < n; i++)
		out[i] = label[i] == '_' ? '-' :
			 (char)tolower((unsigned char)label[i]);
	out[i] = '\0';
}

/* Other muscles' surface EMG (issue 18): PSG_ROLE_MUSCLE, read after
   the table above (no spelling there matches one of these), each with
   the name a researcher reports it under; the first match wins. */
static const struct { const char *glob, *muscle; } muscles[] = {
	{"*paraspin*", "paraspinal"}, {"*erector*", "paraspinal"},
	{"*spinae*", "paraspinal"}, {"*trap*", "trapezius"},
	{"*sternocl*", "sternocleidomastoid"},
	{"*scm*", "sternocleidomastoid"}, {"*deltoid*", "deltoid"},
	{"*fds*", "forearm flexors"}, {"*forearm*", "forearm flexors"},
	{"*flexor*", "forearm flexors"}, {"*gastroc*", "gastrocnemius"},
	{"*calf*", "gastrocnemius"},
};

/* The side a muscle label names: "left"/"right" or a separate letter
   l/r ("Trapezius R", "SCM-L"); letters joined to the name are not
   read ("Paraspinal" ends in l). */
static const char *side_of(const char *l)
{
	size_t n = strlen(l);
	if (strstr(l, "left"))
		return "L";
	if (strstr(l, "right"))
		return "R";
	for (size_t i = 0; i < n; i++) {
		int start = i == 0 || !isalpha((unsigned char)l[i - 1]);
		int end = i + 1 == n || !isalpha((unsigned char)l[i + 1]);
		if ((l[i] == 'l' || l[i] == 'r') && start && end)
			return l[i] == 'l' ? "L" : "R";
	}
	return NULL;
}

static int muscle_of(const char *l, char *name, size_t n)
{
	for (size_t i = 0; i < sizeof muscles / sizeof *muscles; i++) {
		if (fnmatch(muscles[i].glob, l, 0))
			continue;
		const char *side = side_of(l);
		if (n)
			snprintf(name, n, "%s%s%s", muscles[i].muscle,
				 side ? " " : "", side ? side : "");
		return 1;
	}
	return 0;
}

int psg_label_muscle(const char *label, char *name, size_t n)
{
	char l[PSG_LABEL_LEN];
	normalise(label, l, sizeof l);
	const char *r = psg_label_role(label);
	return r && !strcmp(r, PSG_ROLE_MUSCLE) && muscle_of(l, name, n);
}

/* 10-20 electrodes an EEG label starts with (after "EEG "). */
static int eeg_electrode(const char *l)
{
	static const char *const e[] = {"fp", "af", "fc", "cp", "po", "f",
		"c", "p", "o", "t"};
	if (!strncmp(l, "eeg ", 4))
		l += 4;
	for (size_t i = 0; i < sizeof e / sizeof *e; i++) {
		size_t k = strlen(e[i]);
		if (!strncmp(l, e[i], k) &&
		    (isdigit((unsigned char)l[k]) || l[k] == 'z'))
			return 1;
	}
	return 0;
}

const char *psg_label_role(const char *label)
{
	char l[PSG_LABEL_LEN];
	normalise(label, l, sizeof l);
	for (size_t i = 0; i < sizeof spellings / sizeof *spellings; i++)
		if (!fnmatch(spellings[i].glob, l, 0))
			return spellings[i].role;
	if (muscle_of(l, NULL, 0))
		return PSG_ROLE_MUSCLE;
	return eeg_electrode(l) ? PSG_ROLE_EEG : NULL;
}

/* A channel can take a role: in µV, and the table (or, for EEG, the
   kind psg-read guessed) says so. */
int psg_channel_has_role(const psg_channel *c, const char *role)
{
	const char *r = psg_label_role(c->label);
	if (strcmp(c->unit, "uV"))
		return 0;
	if (!strcmp(role, PSG_ROLE_EEG))
		return !strcmp(c->kind, PSG_KIND_EEG) &&
		       (!r || !strcmp(r, PSG_ROLE_EEG));
	return r && !strcmp(r, role);
}

/* A referenced derivation ("C4-M1", "1-2") rather than one electrode. */
static int derivation(const char *label)
{
	return strchr(label, '-') != NULL;
}

int psg_role_channels(const psg_header *h, const char *role, int *idx,
		      int max)
{
	int n = 0;
	for (int i = 0; i < h->nchannels && n < max; i++)
		if (psg_channel_has_role(&h->channels[i], role))
			idx[n++] = i;
	return n;
}

int psg_role_first(const psg_header *h, const char *role)
{
	int first = -1;
	for (int i = 0; i < h->nchannels; i++) {
		if (!psg_channel_has_role(&h->channels[i], role))
			continue;
		if (derivation(h->channels[i].label))
			return i;
		if (first < 0)
			first = i;
	}
	return first;
}

/* The electrode part of a label: "EEG Fpz-Cz" -> "Fpz-Cz". */
static const char *electrode(const char *label)
{
	return strncasecmp(label, "EEG ", 4) ? label : label + 4;
}

/* pref matches the electrode e: "F4" matches "F4-M1"; a one-letter
   prefix needs a digit or z after it ("C" matches "C3-A2" and "Cz"). */
static int starts(const char *e, const char *pref)
{
	size_t k = strlen(pref);
	return !strncasecmp(e, pref, k) &&
	       (k > 1 || isdigit((unsigned char)e[1]) || e[1] == 'z' ||
		e[1] == 'Z');
}

int psg_role_eeg(const psg_header *h, const char *const *pref, size_t n)
{
	for (size_t p = 0; p < n; p++)
		for (int deriv = 1; deriv >= 0; deriv--)
			for (int i = 0; i < h->nchannels; i++) {
				const psg_channel *c = &h->channels[i];
				if (psg_channel_has_role(c, PSG_ROLE_EEG) &&
				    derivation(c->label) == deriv &&
				    starts(electrode(c->label), pref[p]))
					return i;
			}
	/* No electrode name at all: "EEG", "EEG(sec)" (SHHS), "EEG1". */
	for (int i = 0; i < h->nchannels; i++) {
		char l[PSG_LABEL_LEN];
		normalise(h->channels[i].label, l, sizeof l);
		if (psg_channel_has_role(&h->channels[i], PSG_ROLE_EEG) &&
		    !eeg_electrode(l))
			return i;
	}
	return -1;
}

void psg_channel_list(const psg_header *h, char *buf, size_t n)
{
	size_t used = 0;
	if (n)
		buf[0] = '\0';
	for (int i = 0; i < h->nchannels && used + 1 < n; i++) {
		int k = snprintf(buf + used, n - used, "%s'%s'",
				 i ? ", " : "", h->channels[i].label);
		if (k < 0 || (size_t)k >= n - used) {
			/* Out of room: end with "..." where it fits. */
			if (n >= 4)
				memcpy(buf + n - 4, "...", 4);
			return;
		}
		used += (size_t)k;
	}
}
