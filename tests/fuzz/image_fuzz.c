/* libFuzzer target: the engine on arbitrary image bytes, as an SDK gets
 * them from the network.
 *
 * Random bytes almost never pass the checksum, so the harness fixes the
 * size field and the checksum of inputs that have a header: the fuzzer
 * then exercises the structural verification and, for everything that
 * passes it, the interpreter. roost_flag_load must refuse or accept without
 * fault, and an accepted image must evaluate without fault for every
 * context and every typed entry point.
 *
 *   tests/fuzz/run.sh image 600          (docs/engine.md)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "fuzz_contexts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 20)
        return 0;
    /* A private copy: the engine must not need anything past `size`. */
    uint8_t *img = malloc(size ? size : 1);
    memcpy(img, data, size);
    if (size >= RI_HEADER_LEN && memcmp(img, RI_MAGIC, 4) == 0) {
        ri_put32(img + RI_OFF_SIZE, (uint32_t)size);
        ri_put32(img + RI_OFF_CHECKSUM, roost_fnv1a(img + 16, size - 16, ROOST_FNV_BASIS));
    }
    roost_flag f;
    roost_error err;
    if (roost_flag_load(&f, img, size, &err) == ROOST_OK) {
        roost_ctx ctx[FUZZ_NCTX];
        roost_ctx_attr attrs[FUZZ_NCTX][16];
        fuzz_contexts(ctx, attrs);
        for (int c = 0; c < FUZZ_NCTX; c++) {
            fuzz_eval_all(&f, &ctx[c]);
            fuzz_check_shape(&f, &ctx[c]);
        }
        uint32_t slots[3];
        roost_flagset set;
        if (roost_flagset_init(&set, &f, 1, slots, 3, NULL) == ROOST_OK &&
            roost_flagset_find(&set, f.key, f.key_len) != &f)
            abort();
    }
    free(img);
    return 0;
}
