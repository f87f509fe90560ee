/* channels.c -- channel kinds, units and selection by label/glob/index. */
#include "internal.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Case-insensitive substring test on ASCII. */
static int has(const char *s, const char *word)
{
	size_t n = strlen(word);
	for (; *s; s++)
		if (!strncasecmp(s, word, n))
			return 1;
	return 0;
}

const char *psg_guess_kind(const char *label, const char *transducer,
			   const char *unit)
{
	/* Order matters: "EMG Chin" must not be taken for EEG by an electrode
	   name, and "SpO2" must not match "O2" as an occipital electrode. */
	static const struct { const char *word, *kind; } rules[] = {
		{"spo2", PSG_KIND_SPO2}, {"sao2", PSG_KIND_SPO2},
		{"pleth", PSG_KIND_SPO2}, {"sat", PSG_KIND_SPO2},
		{"ecg", PSG_KIND_ECG}, {"ekg", PSG_KIND_ECG},
		{"emg", PSG_KIND_EMG}, {"chin", PSG_KIND_EMG},
		{"tib", PSG_KIND_EMG}, {"leg", PSG_KIND_EMG},
		{"masset", PSG_KIND_EMG}, {"subm", PSG_KIND_EMG},
		{"eog", PSG_KIND_EOG}, {"loc", PSG_KIND_EOG},
		{"roc", PSG_KIND_EOG}, {"e1", PSG_KIND_EOG},
		{"e2", PSG_KIND_EOG}, {"horiz", PSG_KIND_EOG},
		{"resp", PSG_KIND_RESP}, {"thor", PSG_KIND_RESP},
		{"abdo", PSG_KIND_RESP}, {"flow", PSG_KIND_RESP},
		{"nasal", PSG_KIND_RESP}, {"cannula", PSG_KIND_RESP},
		{"therm", PSG_KIND_RESP}, {"naf", PSG_KIND_RESP},
		{"snor", PSG_KIND_AUDIO}, {"mic", PSG_KIND_AUDIO},
		{"audio", PSG_KIND_AUDIO}, {"sound", PSG_KIND_AUDIO},
		{"eeg", PSG_KIND_EEG},
	};
	/* 10-20 electrode names, alone or as a derivation "C3-A2". */
	static const char *const eeg[] = {
		"fp1", "fp2", "fpz", "f3", "f4", "f7", "f8", "fz", "c3", "c4",
		"cz", "p3", "p4", "pz", "o1", "o2", "oz", "t3", "t4", "t5",
		"t6", "t7", "t8", "af", "fc", "cp", "po"};
	/* The label decides when it can; the transducer only breaks ties
	   ("Temp rectal" has a "Rectal thermistor", not a breathing one). */
	const char *texts[2] = {label ? label : "", transducer ? transducer : ""};
	for (int t = 0; t < 2; t++) {
		if (t == 1 && has(texts[0], "temp"))
			return PSG_KIND_OTHER;
		for (size_t i = 0; i < sizeof rules / sizeof *rules; i++)
			if (has(texts[t], rules[i].word))
				return rules[i].kind;
	}
	for (size_t i = 0; label && i < sizeof eeg / sizeof *eeg; i++) {
		size_t n = strlen(eeg[i]);
		if (!strncasecmp(label, eeg[i], n) &&
		    !isalpha((unsigned char)label[n]))
			return PSG_KIND_EEG;
	}
	/* Spellings with no kind word in them: Nox's chin "1-2". */
	const char *role = label ? psg_label_role(label) : NULL;
	if (role && strcmp(role, PSG_ROLE_EEG))
		return !strcmp(role, PSG_ROLE_EOG) ? PSG_KIND_EOG :
		       !strcmp(role, PSG_ROLE_ECG) ? PSG_KIND_ECG : PSG_KIND_EMG;
	(void)unit;
	return PSG_KIND_OTHER;
}

double psg__to_microvolts(char *unit, size_t n)
{
	static const struct { const char *u; double f; } volts[] = {
		{"uV", 1}, {"\xc2\xb5V", 1}, {"\xb5V", 1}, {"mV", 1e3},
		{"V", 1e6}, {"nV", 1e-3}, {"kV", 1e9}};
	for (size_t i = 0; i < sizeof volts / sizeof *volts; i++)
		if (!strcasecmp(unit, volts[i].u)) {
			/* "MV" in old files means millivolt, never megavolt. */
			psg__strlcpy(unit, "uV", n);
			return volts[i].f;
		}
	return 1;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* Adds the channels matching one item to idx/used; returns matches. */
static int match_item(const psg_header *h, const char *item, char *used)
{
	int found = 0;
	for (int i = 0; i < h->nchannels; i++)
		if (!strcmp(h->channels[i].label, item))
			used[i] = 1, found++;
	if (found)
		return found;
	/* Vendors differ in case ("CHIN1-CHIN2", "Chin1-Chin2"). */
	for (int i = 0; i < h->nchannels; i++)
		if (!strcasecmp(h->channels[i].label, item))
			used[i] = 1, found++;
	if (found)
		return found;
	for (int i = 0; i < h->nchannels; i++)
		if (!fnmatch(item, h->channels[i].label, 0))
			used[i] = 1, found++;
	if (found || !all_digits(item))
		return found;
	long k = strtol(item, NULL, 10);
	if (k >= 0 && k < h->nchannels)
		used[k] = 1, found++;
	return found;
}

int psg_select_channels(const psg_header *h, const char *spec, int *idx,
			int max, char *bad, size_t badlen)
{
	char *copy, *item, *save = NULL, *used;
	int n = 0, items = 0, status = PSG_OK;
	if (!spec || !*spec) {
		for (int i = 0; i < h->nchannels && n < max; i++)
			idx[n++] = i;
		return n;
	}
	copy = strdup(spec);
	used = calloc((size_t)h->nchannels + 1, 1);
	if (!copy || !used) {
		free(copy);
		free(used);
		return PSG_ERR_NOMEM;
	}
	for (item = strtok_r(copy, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		while (*item == ' ')
			item++;
		if (!*item)
			continue;
		items++;
		if (!match_item(h, item, used)) {
			if (bad)
				psg__strlcpy(bad, item, badlen);
			status = PSG_ERR_NOTFOUND;
			break;
		}
	}
	if (status == PSG_OK && !items) {
		if (bad)
			psg__strlcpy(bad, spec, badlen);
		status = PSG_ERR_ARG;     /* "," or " ": a selection of nothing */
	}
	for (int i = 0; status == PSG_OK && i < h->nchannels; i++)
		if (used[i]) {
			if (n >= max) {
				status = PSG_ERR_LIMIT;
				break;
			}
			idx[n++] = i;
		}
	free(copy);
	free(used);
	return status == PSG_OK ? n : status;
}
