/* Thread indexes (see prims.h). */
#include "prims.h"

_Thread_local unsigned sdk_tl_thread_index;

static _Atomic unsigned next_index = 1;

unsigned sdk_thread_index_slow(void)
{
    unsigned i = atomic_fetch_add_explicit(&next_index, 1, memory_order_relaxed);

    if (i == 0) /* wrapped after 4 billion threads: 0 means "unassigned" */
        i = atomic_fetch_add_explicit(&next_index, 1, memory_order_relaxed);
    sdk_tl_thread_index = i;
    return i;
}
