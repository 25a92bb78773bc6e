/* Names for the policy interface's phases; see policy.h. */
#include "tools/sim/policy.h"

const char *sim_phase_name(enum sim_phase p)
{
    switch (p) {
    case SIM_RUNNING:
        return "running";
    case SIM_PROMOTED:
        return "promoted";
    case SIM_ROLLED_BACK:
        return "rolled_back";
    case SIM_PAUSED:
        return "paused";
    }
    return "?";
}
