/*
 * rng.h -- the generator's random numbers: xoshiro256** (Blackman & Vigna
 * 2018) seeded through splitmix64.  Every model draws from its own stream,
 * keyed by (seed, name), so that adding a model or a channel does not
 * change what the others generate.
 */
#ifndef PSG_RNG_H
#define PSG_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct rng {
	uint64_t s[4];
} rng;

static inline uint64_t rng_splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* A stream for (seed, name, index): FNV-1a of the name mixed in. */
static inline void rng_init(rng *r, uint64_t seed, const char *name, int index)
{
	uint64_t h = 0xcbf29ce484222325u;
	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3u;
	uint64_t x = seed ^ h ^ ((uint64_t)(index + 1) << 48);
	for (int i = 0; i < 4; i++)
		r->s[i] = rng_splitmix(&x);
}

static inline uint64_t rng_next(rng *r)
{
	uint64_t *s = r->s;
	uint64_t x = s[1] * 5, res = ((x << 7) | (x >> 57)) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = (s[3] << 45) | (s[3] >> 19);
	return res;
}

/* Uniform in [0, 1). */
static inline double rng_unif(rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static inline double rng_range(rng *r, double lo, double hi)
{
	return lo + (hi - lo) * rng_unif(r);
}

/* Zero-mean, unit-variance uniform noise: the signal models filter it, and
   filtered noise is Gaussian by the central limit theorem, at a fraction
   of the cost of drawing Gaussians. */
static inline double rng_white(rng *r)
{
	return (rng_unif(r) - 0.5) * 3.4641016151377544;   /* sqrt(12) */
}

/* Standard normal (Box-Muller), for the event parameters. */
static inline double rng_normal(rng *r)
{
	double u = rng_unif(r), v = rng_unif(r);
	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static inline double rng_exp(rng *r, double mean)
{
	return -mean * log(1 - rng_unif(r));
}

/* Log-normal with the given median and geometric spread (sigma of ln). */
static inline double rng_lognormal(rng *r, double median, double sigma)
{
	return median * exp(sigma * rng_normal(r));
}

#endif
