/*
 * rbdvol_host: a minimal volume-service host in plain C99, to show that the
 * plugin's ABI needs nothing from C++.
 *
 *   rbdvol_host PLUGIN.so CONFIG [OP [REQUEST_JSON]]
 *
 * Loads PLUGIN.so the way Ceph loads an erasure-code plugin: dlopen with
 * RTLD_NOW, look up the one entry symbol, check the ABI version and the table
 * size (at least the first ABI-1 table; a longer one is accepted) before
 * anything else is called, dlclose on every failure path. Then it
 * opens the driver with CONFIG, runs OP (default "backend.list") with
 * REQUEST_JSON (default "{}") and prints the answer on stdout. For
 * backend.list it also prints one line per backend: "backend <id> <state>".
 * The streaming operations go through call_stream, when the plugin's table
 * has it (RBDVOL_DRIVER_OPS_HAS): "image.write" reads the image's data from
 * stdin; "image.read" writes it to stdout, and the answer goes to stderr.
 *
 * Exit status: 0 on success, 1 when open or the operation fails, 2 for a bad
 * command line or a plugin that cannot be loaded or has another ABI.
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbdvol/driver.h"

static void report_progress(void* ctx, const char* stage, uint64_t done, uint64_t total) {
  (void)ctx;
  fprintf(stderr, "rbdvol_host: %s: %llu of %llu bytes\n", stage, (unsigned long long)done,
          (unsigned long long)total);
}

/* call_stream's data: stdin in, stdout out. */
static int64_t read_stdin(void* ctx, void* buf, uint64_t len) {
  (void)ctx;
  size_t n = fread(buf, 1, (size_t)len, stdin);
  if (n == 0 && ferror(stdin)) return -5; /* EIO */
  return (int64_t)n;
}

static int write_stdout(void* ctx, const void* buf, uint64_t len) {
  (void)ctx;
  return fwrite(buf, 1, (size_t)len, stdout) == (size_t)len ? 0 : -5; /* EIO */
}

/*
 * Returns the end of the JSON string whose opening quote is at s[0] (the
 * position of its closing quote), or NULL when it is not terminated.
 */
static const char* string_end(const char* s) {
  for (++s; *s; ++s) {
    if (*s == '\\' && s[1]) {
      ++s;
    } else if (*s == '"') {
      return s;
    }
  }
  return NULL;
}

/*
 * Prints "backend <id> <state>" for each object of the "backends" array of a
 * backend.list answer: {"backends":[{..."id":"fast",..."state":"up"...}]}.
 * Not a JSON parser, only a scanner that skips strings correctly and looks
 * at the keys "id" and "state" of the objects at depth 3; it relies on the
 * plugin's answers being compact (no white space around ':').
 */
static void print_backend_lines(const char* answer) {
  int depth = 0;
  const char *id = NULL, *state = NULL;
  int id_len = 0, state_len = 0;
  for (const char* p = answer; *p; ++p) {
    if (*p == '{' || *p == '[') {
      ++depth;
    } else if (*p == '}' || *p == ']') {
      if (*p == '}' && depth == 3 && id) {
        printf("backend %.*s %.*s\n", id_len, id, state ? state_len : 1, state ? state : "?");
        id = state = NULL;
      }
      --depth;
    } else if (*p == '"') {
      const char* key = p + 1;
      const char* end = string_end(p);
      if (!end) return;
      p = end;
      if (depth != 3 || end[1] != ':' || end[2] != '"') continue;
      const char* value = end + 3;
      const char* value_end = string_end(end + 2);
      if (!value_end) return;
      p = value_end;
      if (end - key == 2 && strncmp(key, "id", 2) == 0) {
        id = value;
        id_len = (int)(value_end - value);
      } else if (end - key == 5 && strncmp(key, "state", 5) == 0) {
        state = value;
        state_len = (int)(value_end - value);
      }
    }
  }
}

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    fprintf(stderr, "usage: rbdvol_host PLUGIN.so CONFIG [OP [REQUEST_JSON]]\n");
    return 2;
  }
  const char* plugin_path = argv[1];
  const char* config_path = argv[2];
  const char* op = argc > 3 ? argv[3] : "backend.list";
  const char* request = argc > 4 ? argv[4] : "{}";

  void* library = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    fprintf(stderr, "rbdvol_host: cannot load %s: %s\n", plugin_path, dlerror());
    return 2;
  }
  dlerror();
  void* symbol = dlsym(library, RBDVOL_DRIVER_ENTRY_SYMBOL);
  const char* dl_error = dlerror();
  if (dl_error || !symbol) {
    fprintf(stderr, "rbdvol_host: %s has no %s: %s\n", plugin_path, RBDVOL_DRIVER_ENTRY_SYMBOL,
            dl_error ? dl_error : "the symbol is NULL");
    dlclose(library);
    return 2;
  }
  /* ISO C has no cast from void* to a function pointer; POSIX guarantees
   * that copying the bits works. */
  rbdvol_driver_entry_fn entry;
  memcpy(&entry, &symbol, sizeof(entry));

  const rbdvol_driver_ops* ops = entry();
  if (!ops) {
    fprintf(stderr, "rbdvol_host: %s: %s returned no table\n", plugin_path,
            RBDVOL_DRIVER_ENTRY_SYMBOL);
    dlclose(library);
    return 2;
  }
  if (ops->abi_version != RBDVOL_DRIVER_ABI_VERSION) {
    fprintf(stderr,
            "rbdvol_host: %s has driver ABI version %u, this host needs version %u; refusing it\n",
            plugin_path, (unsigned)ops->abi_version, (unsigned)RBDVOL_DRIVER_ABI_VERSION);
    dlclose(library);
    return 2;
  }
  /* Any table at least as long as the first ABI-1 table is accepted, a longer
   * one from a newer plugin included; a member added after it would be used
   * only after RBDVOL_DRIVER_OPS_HAS(ops, member). */
  if (ops->struct_size < RBDVOL_DRIVER_OPS_V1_SIZE) {
    fprintf(stderr,
            "rbdvol_host: %s has a driver table of %u bytes, shorter than the %zu bytes of the "
            "first ABI-1 table; refusing it\n",
            plugin_path, (unsigned)ops->struct_size, (size_t)RBDVOL_DRIVER_OPS_V1_SIZE);
    dlclose(library);
    return 2;
  }
  if (!ops->open || !ops->close || !ops->call || !ops->free_string) {
    fprintf(stderr, "rbdvol_host: %s has an incomplete driver table; refusing it\n", plugin_path);
    dlclose(library);
    return 2;
  }

  rbdvol_driver* driver = NULL;
  char* errmsg = NULL;
  int rc = ops->open(config_path, &driver, &errmsg);
  if (rc < 0) {
    fprintf(stderr, "rbdvol_host: open: %s (%s)\n", errmsg ? errmsg : "no message", strerror(-rc));
    ops->free_string(errmsg);
    dlclose(library);
    return 1;
  }

  char* answer = NULL;
  const int stream_in = strcmp(op, "image.write") == 0;
  const int stream_out = strcmp(op, "image.read") == 0;
  if ((stream_in || stream_out) && !(RBDVOL_DRIVER_OPS_HAS(ops, call_stream) && ops->call_stream)) {
    fprintf(stderr, "rbdvol_host: %s has no call_stream, which %s needs\n", plugin_path, op);
    ops->close(driver);
    dlclose(library);
    return 1;
  }
  if (stream_in || stream_out) {
    rc = ops->call_stream(driver, op, request, stream_in ? read_stdin : NULL, NULL,
                          stream_out ? write_stdout : NULL, NULL, report_progress, NULL, &answer,
                          &errmsg);
    if (stream_out) fflush(stdout);
  } else {
    rc = ops->call(driver, op, request, report_progress, NULL, &answer, &errmsg);
  }
  int status = 0;
  if (rc < 0) {
    fprintf(stderr, "rbdvol_host: %s: %s (%s)\n", op, errmsg ? errmsg : "no message",
            strerror(-rc));
    status = 1;
  } else if (stream_out) {
    fprintf(stderr, "%s\n", answer);
  } else {
    printf("%s\n", answer);
    if (strcmp(op, "backend.list") == 0) print_backend_lines(answer);
  }
  ops->free_string(answer);
  ops->free_string(errmsg);
  ops->close(driver);
  dlclose(library);
  return status;
}
