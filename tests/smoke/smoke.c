#include <stdio.h>
#include <grpc/grpc.h>
#include <lmdb.h>
#include <cjson/cJSON.h>
int main(int argc, char **argv) { grpc_init(); printf("%s %s %s %d\n", grpc_version_string(), mdb_version(0,0,0), cJSON_Version(), argc); FILE *f = fopen(argv[1], "r"); printf("%p\n", (void*)f); grpc_shutdown(); return f ? 0 : 1; }
