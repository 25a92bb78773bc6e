/* libFuzzer target: the flag compiler, then the engine on what it produced.
 *
 * The first input byte picks the mode: even bytes treat the rest as a whole
 * flag-set document, odd bytes as one flag's targeting rule (wrapped in a
 * valid flag, so the fuzzer spends its time inside JsonLogic). Whatever the
 * input, compiling must end in an image or an error, never a crash, leak
 * or sanitizer report; and every image the compiler produces must load
 * (the compiler re-verifies it; this checks again from the outside) and
 * evaluate against the fuzz contexts.
 *
 *   tests/fuzz/run.sh compile 600        (docs/engine.md)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "fuzz_contexts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16)
        return 0;
    bool rule_mode = data[0] & 1;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char *text;
    static const char head[] = "{\"$evaluators\":{\"e\":{\"in\":[{\"var\":\"email\"},[\"a\",\"b\"]]}},"
                               "\"flags\":{\"f\":{\"state\":\"ENABLED\",\"variants\":{\"a\":\"a\","
                               "\"true\":\"t\",\"1\":\"one\"},\"defaultVariant\":\"a\","
                               "\"metadata\":{\"m\":1},\"targeting\":";
    size_t tlen;
    if (rule_mode) {
        tlen = sizeof head - 1 + len + 3;
        text = malloc(tlen);
        memcpy(text, head, sizeof head - 1);
        memcpy(text + sizeof head - 1, body, len);
        memcpy(text + sizeof head - 1 + len, "}}}", 3);
    } else {
        tlen = len;
        text = malloc(len + 1);
        memcpy(text, body, len);
    }

    cJSON *doc = NULL;
    roost_compiled_set *set = NULL;
    roost_error err;
    if (roost_json_parse(text, tlen, "fuzz", &doc, &err) == ROOST_OK &&
        roost_compile_flagset(doc, &set, &err) == ROOST_OK) {
        roost_ctx ctx[FUZZ_NCTX];
        roost_ctx_attr attrs[FUZZ_NCTX][16];
        fuzz_contexts(ctx, attrs);
        for (size_t i = 0; i < roost_compiled_set_count(set); i++) {
            const roost_compiled_flag *cf = roost_compiled_set_flag(set, i);
            roost_flag f;
            if (roost_flag_load(&f, cf->image, cf->image_len, &err) != ROOST_OK)
                abort(); /* the compiler produced an image the engine refuses */
            if (strlen(cf->source_json) == 0)
                abort();
            for (int c = 0; c < FUZZ_NCTX; c++) {
                fuzz_eval_all(&f, &ctx[c]);
                fuzz_check_shape(&f, &ctx[c]);
            }
        }
        for (size_t i = 0; i < roost_compiled_set_warning_count(set); i++)
            if (!roost_compiled_set_warning(set, i))
                abort();
        roost_compiled_set_free(set);
    }
    cJSON_Delete(doc);
    free(text);
    return 0;
}
