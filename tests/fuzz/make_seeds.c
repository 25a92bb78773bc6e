/* Writes starting corpora for the fuzz targets: every flag of the given
 * flag files as a compile-mode document, its targeting as a rule-mode
 * input, and its compiled image.
 *
 *   make_seeds OUT_DIR FLAGS.json...   (writes OUT_DIR/compile and OUT_DIR/image)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compile.h"

static void write_file(const char *dir, const char *kind, size_t n, uint8_t mode, const void *data,
                       size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/seed-%05zu", dir, kind, n);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    if (mode != 0xff)
        fputc(mode, f);
    fwrite(data, 1, len, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    char path[4096];
    size_t n = 0;
    if (argc < 3) {
        fprintf(stderr, "usage: %s OUT_DIR FLAGS.json...\n", argv[0]);
        return 2;
    }
    snprintf(path, sizeof path, "%s/compile", argv[1]);
    mkdir(argv[1], 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/image", argv[1]);
    mkdir(path, 0755);
    for (int a = 2; a < argc; a++) {
        cJSON *doc;
        roost_compiled_set *set;
        roost_error err;
        if (roost_json_parse_file(argv[a], &doc, &err) != ROOST_OK ||
            roost_compile_flagset(doc, &set, &err) != ROOST_OK) {
            fprintf(stderr, "make_seeds: %s\n", err.msg);
            return 1;
        }
        const cJSON *flags = cJSON_GetObjectItemCaseSensitive(doc, "flags");
        for (size_t i = 0; i < roost_compiled_set_count(set); i++, n++) {
            const roost_compiled_flag *cf = roost_compiled_set_flag(set, i);
            char *one = malloc(strlen(cf->source_json) + strlen(cf->key) + 32);
            sprintf(one, "{\"flags\":{\"%s\":%s}}", cf->key, cf->source_json);
            write_file(argv[1], "compile", 2 * n, 0, one, strlen(one));
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(flags, cf->key), "targeting");
            char *rule = t ? cJSON_PrintUnformatted(t) : NULL;
            if (rule)
                write_file(argv[1], "compile", 2 * n + 1, 1, rule, strlen(rule));
            write_file(argv[1], "image", n, 0xff, cf->image, cf->image_len);
            cJSON_free(rule);
            free(one);
        }
        roost_compiled_set_free(set);
        cJSON_Delete(doc);
    }
    printf("%zu flags written to %s\n", n, argv[1]);
    return 0;
}
