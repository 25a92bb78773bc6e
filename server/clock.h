/* roostd's clocks: the wall clock for what is stored and shown (decision
 * times, change times), the monotonic clock for durations and timeouts,
 * and deadlines for pthread_cond_timedwait, which waits on the wall clock
 * (CLOCK_REALTIME) unless a condition variable is told otherwise. */
#ifndef ROOSTD_CLOCK_H
#define ROOSTD_CLOCK_H

#include <stdint.h>
#include <time.h>

int64_t clock_wall_ms(void);
int64_t clock_mono_ms(void);
int64_t clock_mono_us(void);

/* The wall clock ms from now, for pthread_cond_timedwait. */
struct timespec clock_deadline_ms(int64_t ms);

#endif
