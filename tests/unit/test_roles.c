/* test_roles.c -- the label table of pipeline/roles.c: one case per
 * vendor spelling, and the pickers (derivation before bare electrode,
 * µV only, case-insensitive selection, the Nox montage). */
#include "psg.h"
#include "tap.h"

#include <string.h>

static const struct { const char *vendor, *label, *role; } cases[] = {
	{"Nox", "1-2", PSG_ROLE_CHIN}, {"Nox", "1-F", PSG_ROLE_CHIN},
	{"Nox", "2-F", PSG_ROLE_CHIN}, {"Nox", "Left Leg", PSG_ROLE_LEG},
	{"Nox", "Right Leg", PSG_ROLE_LEG}, {"Nox", "E1-M2", PSG_ROLE_EOG},
	{"Nox", "E2-M1", PSG_ROLE_EOG}, {"Nox", "ECG", PSG_ROLE_ECG},
	{"Nox", "C4-M1", PSG_ROLE_EEG},
	{"Nox (French)", "Jambe droite", PSG_ROLE_LEG},
	{"Compumedics (SHHS)", "EMG", PSG_ROLE_CHIN},
	{"Compumedics (SHHS)", "EOG(L)", PSG_ROLE_EOG},
	{"Compumedics (SHHS)", "EEG(sec)", PSG_ROLE_EEG},
	{"Compumedics (MESA)", "EKG", PSG_ROLE_ECG},
	{"Compumedics (MESA)", "EOG-R", PSG_ROLE_EOG},
	{"Compumedics (MESA)", "Leg", PSG_ROLE_LEG},
	{"Natus", "Chin1-Chin2", PSG_ROLE_CHIN},
	{"Natus", "CHIN1-CHIN2", PSG_ROLE_CHIN},
	{"Natus", "LLEG1-LLEG2", PSG_ROLE_LEG},
	{"Natus", "LOC-M2", PSG_ROLE_EOG}, {"Natus", "ROC-M1", PSG_ROLE_EOG},
	{"Philips Alice", "EMG Chin", PSG_ROLE_CHIN},
	{"Philips Alice", "Leg 1", PSG_ROLE_LEG},
	{"Philips Alice", "ECG I", PSG_ROLE_ECG},
	{"Philips Alice", "EEG C3-A2", PSG_ROLE_EEG},
	{"SomnoMedics", "EMG1", PSG_ROLE_CHIN},
	{"SomnoMedics", "EMG1-EMG2", PSG_ROLE_CHIN},
	{"SomnoMedics", "PLM l", PSG_ROLE_LEG},
	{"SomnoMedics", "PLMr", PSG_ROLE_LEG},
	{"BrainProducts", "EMG2", PSG_ROLE_CHIN},
	{"BrainProducts", "HEOG", PSG_ROLE_EOG},
	{"BrainProducts", "EKG", PSG_ROLE_ECG},
	{"Sleep-EDF", "EMG submental", PSG_ROLE_CHIN},
	{"Sleep-EDF", "EOG horizontal", PSG_ROLE_EOG},
	{"Sleep-EDF", "EEG Fpz-Cz", PSG_ROLE_EEG},
	{"NSRR harmonised", "C4_M1", PSG_ROLE_EEG},
	{"NSRR harmonised", "LOC", PSG_ROLE_EOG},
	{"NSRR harmonised", "chin", PSG_ROLE_CHIN},
	{"NSRR harmonised", "LLEG", PSG_ROLE_LEG},
	{"NSRR harmonised", "RLEG", PSG_ROLE_LEG},
	{"AASM", "LAT", PSG_ROLE_LEG}, {"AASM", "RAT", PSG_ROLE_LEG},
	{"AASM", "Masseter L", PSG_ROLE_MASSETER},
	{"issue 18", "Paraspinal L", PSG_ROLE_MUSCLE},
	{"issue 18", "Erector spinae R", PSG_ROLE_MUSCLE},
	{"issue 18", "Trapezius R", PSG_ROLE_MUSCLE},
	{"issue 18", "SCM L", PSG_ROLE_MUSCLE},
	{"issue 18", "Sternocleidomastoid", PSG_ROLE_MUSCLE},
	{"issue 18", "Deltoid R", PSG_ROLE_MUSCLE},
	{"issue 18", "FDS L", PSG_ROLE_MUSCLE},
	{"issue 18", "EMG Forearm flexors", PSG_ROLE_MUSCLE},
	{"issue 18", "Gastrocnemius L", PSG_ROLE_MUSCLE},
	{"issue 18", "Calf_R", PSG_ROLE_MUSCLE},
	{"none", "SpO2", NULL}, {"none", "Thor", NULL}, {"none", "Light", NULL},
	{"none", "Flow", NULL}, {"none", "K", NULL}, {"none", "1", NULL},
};

static void add(psg_header *h, const char *label, const char *unit)
{
	psg_channel c = {0};
	strcpy(c.label, label);
	strcpy(c.unit, unit);
	strcpy(c.kind, psg_guess_kind(label, "", unit));
	c.spr = 200, c.period = PSG_TICKS_PER_SEC;
	psg_header_add_channel(h, &c);
}

static const char *label_of(const psg_header *h, int i)
{
	return i < 0 ? "(none)" : h->channels[i].label;
}

int main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *r = psg_label_role(cases[i].label);
		OK(r == cases[i].role ||
		   (r && cases[i].role && !strcmp(r, cases[i].role)),
		   "%s '%s' -> %s (got %s)", cases[i].vendor, cases[i].label,
		   cases[i].role ? cases[i].role : "no role", r ? r : "none");
	}

	/* Muscles and sides (issue 18). */
	static const struct { const char *label, *name; } mus[] = {
		{"Paraspinal L", "paraspinal L"},
		{"Erector spinae R", "paraspinal R"},
		{"Paraspinal", "paraspinal"}, {"TRAP_R", "trapezius R"},
		{"Trapezius left", "trapezius L"},
		{"SCM-L", "sternocleidomastoid L"}, {"Deltoid R", "deltoid R"},
		{"FDS L", "forearm flexors L"}, {"Calf_R", "gastrocnemius R"},
		{"Gastrocnemius", "gastrocnemius"}, {"Leg L", NULL},
		{"Chin1-Chin2", NULL},
	};
	for (size_t k = 0; k < sizeof mus / sizeof *mus; k++) {
		char name[64] = "";
		int got = psg_label_muscle(mus[k].label, name, sizeof name);
		OK(mus[k].name ? got && !strcmp(name, mus[k].name) : !got,
		   "muscle '%s' -> %s (got %s)", mus[k].label,
		   mus[k].name ? mus[k].name : "none", got ? name : "none");
	}

	/* The Nox A1 montage, as its export lists it. */
	psg_header *h = psg_header_new();
	const char *nox[] = {"1", "1-2", "1-F", "2", "C3", "C3-M2", "C4",
		"C4-M1", "E1", "E1-M2", "E2", "E2-M1", "ECG", "F4", "F4-M1",
		"Right Leg", "Left Leg"};
	for (size_t i = 0; i < sizeof nox / sizeof *nox; i++)
		add(h, nox[i], "uV");
	add(h, "C4-M1 (Imp)", "Ohm");
	static const char *const central[] = {"C4", "C3"};
	static const char *const frontal[] = {"F4", "C4"};
	int i = psg_role_eeg(h, central, 2);
	OK(i >= 0 && !strcmp(h->channels[i].label, "C4-M1"),
	   "Nox: the central EEG is C4-M1, not C4 (%s)", label_of(h, i));
	i = psg_role_eeg(h, frontal, 2);
	OK(i >= 0 && !strcmp(h->channels[i].label, "F4-M1"),
	   "Nox: the frontal EEG is F4-M1 (%s)", label_of(h, i));
	i = psg_role_first(h, PSG_ROLE_CHIN);
	OK(i >= 0 && !strcmp(h->channels[i].label, "1-2"),
	   "Nox: the chin is 1-2, not 1 (%s)", label_of(h, i));
	i = psg_role_first(h, PSG_ROLE_EOG);
	OK(i >= 0 && !strcmp(h->channels[i].label, "E1-M2"),
	   "Nox: the EOG is E1-M2, not E1 (%s)", label_of(h, i));
	int idx[8];
	int n = psg_role_channels(h, PSG_ROLE_LEG, idx, 8);
	OK(n == 2, "Nox: two legs (%d)", n);
	OK(!strcmp(psg_guess_kind("1-2", "", "uV"), PSG_KIND_EMG),
	   "Nox's chin 1-2 is kind EMG");
	char bad[PSG_LABEL_LEN];
	n = psg_select_channels(h, "left leg", idx, 8, bad, sizeof bad);
	OK(n == 1 && !strcmp(h->channels[idx[0]].label, "Left Leg"),
	   "selection ignores case ('left leg' -> %d)", n);
	char list[64];
	psg_channel_list(h, list, sizeof list);
	OK(!strncmp(list, "'1', '1-2', '1-F'", 17) &&
	   !strcmp(list + strlen(list) - 3, "..."),
	   "the label list for messages is cut with '...' (%s)", list);
	psg_header_free(h);

	/* Only µV channels take a role; SHHS's "EEG" is an EEG. */
	h = psg_header_new();
	add(h, "EMG", "Ohm");
	add(h, "EEG(sec)", "uV");
	OK(psg_role_first(h, PSG_ROLE_CHIN) < 0, "a chin in Ohm is no chin");
	i = psg_role_eeg(h, central, 2);
	OK(i == 1, "SHHS: EEG(sec) serves when no electrode is named (%d)", i);
	OK(psg_header_add_role(h, "wake", "eeg", 1) == 0 &&
	   psg_header_add_role(h, "wake", "eeg", 2) == PSG_ERR_ARG,
	   "a role names an existing channel");
	psg_header_free(h);
	return TAP_DONE();
}
