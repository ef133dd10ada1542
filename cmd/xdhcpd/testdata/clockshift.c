// clockshift: an LD_PRELOAD library that moves the wall clock of the
// process it is loaded into by CLOCKSHIFT_SECONDS (signed, whole seconds),
// for tests of a partner whose clock is off. Only the realtime clocks
// move; the monotonic clocks that timers use stay as they are, as on a
// host whose clock is merely set wrong.
//
// Build: clang-14 -shared -fPIC -O2 -o libclockshift.so clockshift.c -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long shift(void) {
	static long s;
	static int done;
	if (!done) {
		const char *v = getenv("CLOCKSHIFT_SECONDS");
		s = v ? strtol(v, NULL, 10) : 0;
		done = 1;
	}
	return s;
}

static int realtime(clockid_t id) {
	return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE || id == CLOCK_TAI;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
	static int (*next)(clockid_t, struct timespec *);
	if (!next) {
		next = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	}
	int rc = next(id, ts);
	if (rc == 0 && realtime(id)) {
		ts->tv_sec += shift();
	}
	return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
	static int (*next)(struct timeval *restrict, void *restrict);
	if (!next) {
		next = (int (*)(struct timeval *restrict, void *restrict))dlsym(RTLD_NEXT, "gettimeofday");
	}
	int rc = next(tv, tz);
	if (rc == 0) {
		tv->tv_sec += shift();
	}
	return rc;
}

time_t time(time_t *out) {
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
		return (time_t)-1;
	}
	if (out) {
		*out = ts.tv_sec;
	}
	return ts.tv_sec;
}
