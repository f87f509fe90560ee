/*
 * sha256.c -- SHA-256 (FIPS 180-4) of source files, so every result can
 * name the exact recording it came from.  psg-read hashes on a second
 * thread while edflib reads the same file: the page cache serves both and
 * the hash costs no wall time on a 2-core machine.
 */
#include "internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct sha256 {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t used;
} sha256;

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) ((x) >> (n) | (x) << (32 - (n)))

static void compress(sha256 *s, const unsigned char *p)
{
	uint32_t w[64], a[8];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^
			      (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^
			      (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	memcpy(a, s->h, sizeof a);
	uint32_t A = a[0], B = a[1], C = a[2], D = a[3], E = a[4], F = a[5],
		 G = a[6], H = a[7];
	for (int i = 0; i < 64; i++) {
		uint32_t S1 = ROR(E, 6) ^ ROR(E, 11) ^ ROR(E, 25);
		uint32_t ch = (E & F) ^ (~E & G);
		uint32_t t1 = H + S1 + ch + K[i] + w[i];
		uint32_t S0 = ROR(A, 2) ^ ROR(A, 13) ^ ROR(A, 22);
		uint32_t mj = (A & B) ^ (A & C) ^ (B & C);
		H = G, G = F, F = E, E = D + t1;
		D = C, C = B, B = A, A = t1 + S0 + mj;
	}
	a[0] = A, a[1] = B, a[2] = C, a[3] = D;
	a[4] = E, a[5] = F, a[6] = G, a[7] = H;
	for (int i = 0; i < 8; i++)
		s->h[i] += a[i];
}

static void sha_init(sha256 *s)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
		0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(s->h, iv, sizeof iv);
	s->len = 0;
	s->used = 0;
}

static void sha_update(sha256 *s, const unsigned char *p, size_t n)
{
	s->len += n;
	if (s->used) {
		size_t k = 64 - s->used < n ? 64 - s->used : n;
		memcpy(s->buf + s->used, p, k);
		s->used += k, p += k, n -= k;
		if (s->used < 64)
			return;
		compress(s, s->buf);
		s->used = 0;
	}
	for (; n >= 64; p += 64, n -= 64)
		compress(s, p);
	memcpy(s->buf, p, n);
	s->used = n;
}

static void sha_hex(sha256 *s, char out[65])
{
	uint64_t bits = s->len * 8;
	unsigned char pad[72] = {0x80};
	size_t padlen = (s->used < 56 ? 56 : 120) - s->used;
	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
	sha_update(s, pad, padlen + 8);
	for (int i = 0; i < 8; i++)
		snprintf(out + 8 * i, 9, "%08x", s->h[i]);
}

int psg_sha256_file(const char *path, char out[65])
{
	enum { CHUNK = 1 << 20 };
	sha256 s;
	int fd = open(path, O_RDONLY);
	unsigned char *buf = malloc(CHUNK);
	ssize_t k = 0;
	out[0] = '\0';
	if (fd < 0 || !buf) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return fd < 0 ? PSG_ERR_IO : PSG_ERR_NOMEM;
	}
	sha_init(&s);
	while ((k = read(fd, buf, CHUNK)) > 0)
		sha_update(&s, buf, (size_t)k);
	close(fd);
	free(buf);
	if (k < 0)
		return PSG_ERR_IO;
	sha_hex(&s, out);
	return PSG_OK;
}

struct psg_hasher {
	pthread_t thread;
	char *path;
	char hex[65];
};

static void *hash_main(void *arg)
{
	psg_hasher *hs = arg;
	psg_sha256_file(hs->path, hs->hex);
	return NULL;
}

psg_hasher *psg__hasher_start(const char *path)
{
	psg_hasher *hs = calloc(1, sizeof *hs);
	if (!hs || !(hs->path = strdup(path)) ||
	    pthread_create(&hs->thread, NULL, hash_main, hs)) {
		if (hs)
			free(hs->path);
		free(hs);
		return NULL;
	}
	return hs;
}

void psg__hasher_finish(psg_hasher *hs, char out[65])
{
	out[0] = '\0';
	if (!hs)
		return;
	pthread_join(hs->thread, NULL);
	memcpy(out, hs->hex, 65);
	free(hs->path);
	free(hs);
}
