/*
 * rbdvol volume-backend plugin: the C ABI.
 *
 * This is the plugin's only public header. A volume service (the "host")
 * loads librbdvol_rbd.so with dlopen(RTLD_NOW), looks up the one exported
 * symbol RBDVOL_DRIVER_ENTRY_SYMBOL, and calls it. The table it returns begins
 * with the ABI version and the table's own size; the host checks both before
 * it calls anything else and refuses a plugin whose ABI version differs from
 * its own.
 *
 * Rules of the ABI:
 *  - No C++ type and no exception crosses it. Every call returns 0 on success
 *    or a negative errno (-ENOENT, -EEXIST, -EBUSY, -EINVAL, -ENOSPC,
 *    -ETIMEDOUT, ...). On failure *errmsg (when errmsg is not NULL) receives a
 *    text that names what is wrong; the caller frees it with free_string().
 *  - Requests and answers are JSON documents (UTF-8, NUL-terminated). The
 *    operations, their requests and their answers are listed in
 *    docs/driver-abi.md.
 *  - One driver handle may be used from several threads at once.
 *  - The table only ever grows at the end. A host accepts any table at
 *    least RBDVOL_DRIVER_OPS_V1_SIZE bytes long (the first table of ABI 1),
 *    whatever its own sizeof(rbdvol_driver_ops), and checks
 *    RBDVOL_DRIVER_OPS_HAS(ops, member) before it uses a member added later.
 *    A plugin with a longer table than the host knows is accepted: the host
 *    never looks past the members it knows.
 */
#ifndef RBDVOL_DRIVER_H
#define RBDVOL_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(RBDVOL_BUILDING_DRIVER)
#define RBDVOL_EXPORT __attribute__((visibility("default")))
#else
#define RBDVOL_EXPORT
#endif

/* Bumped on any incompatible change of the table or of its calls. */
#define RBDVOL_DRIVER_ABI_VERSION 1u
#define RBDVOL_DRIVER_ENTRY_SYMBOL "rbdvol_driver_entry"

/* An opened driver: one config, connections to every enabled backend. */
typedef struct rbdvol_driver rbdvol_driver;

/*
 * Progress of a long operation. `done` and `total` are in bytes when the
 * operation moves data (total may be 0 when unknown). `stage` is a short
 * static text ("upload", "copy", ...) valid during the call only. Called on
 * the thread that made the request, or on a worker thread of the driver; it
 * must not call back into the driver.
 */
typedef void (*rbdvol_progress_fn)(void* ctx, const char* stage, uint64_t done, uint64_t total);

/*
 * The data of a streaming call (call_stream). The driver pulls the request's
 * data through a read function and pushes the answer's data through a write
 * function, on the thread that made the call, one call at a time, in order.
 * Neither may call back into the driver.
 *
 * Reads up to `len` bytes of the request's data into `buf`: returns the bytes
 * read (fewer than `len` is fine; the driver reads again), 0 at the end of
 * the data, or -errno on error (the driver stops and fails with that errno).
 */
typedef int64_t (*rbdvol_read_fn)(void* ctx, void* buf, uint64_t len);
/*
 * Writes all `len` bytes of the answer's data: 0, or -errno (the driver stops
 * and fails with that errno).
 */
typedef int (*rbdvol_write_fn)(void* ctx, const void* buf, uint64_t len);

typedef struct rbdvol_driver_ops {
  /* RBDVOL_DRIVER_ABI_VERSION of the plugin. */
  uint32_t abi_version;
  /* sizeof(rbdvol_driver_ops) as the plugin was built: at least
     RBDVOL_DRIVER_OPS_V1_SIZE, more when the plugin knows later members. */
  uint32_t struct_size;

  /*
   * Loads and validates the config file at `config_path` and prepares the
   * backends it enables. Connecting to the clusters happens lazily, per
   * backend, so a cluster that is down does not keep the driver from
   * opening. On success *out is a handle to pass to close().
   * A NULL `config_path` opens a driver without a config: no backends, and
   * only the operations that need none ("image.checksum") run; any other
   * fails with EINVAL, naming the operation.
   */
  int (*open)(const char* config_path, rbdvol_driver** out, char** errmsg);

  /* Closes every cluster connection and frees the handle. NULL is allowed. */
  void (*close)(rbdvol_driver* driver);

  /*
   * Runs operation `op` (for example "volume.create") with the JSON object
   * `request`. On success *answer receives a JSON document the caller frees
   * with free_string(). `progress` may be NULL.
   */
  int (*call)(rbdvol_driver* driver, const char* op, const char* request,
              rbdvol_progress_fn progress, void* progress_ctx, char** answer, char** errmsg);

  /* Frees a string that the driver handed out. NULL is allowed. */
  void (*free_string)(char* s);

  /* Members added later go here, at the end, and only here. A host checks
     RBDVOL_DRIVER_OPS_HAS(ops, member) before it uses one of them. */

  /*
   * Added after the first ABI-1 table (check RBDVOL_DRIVER_OPS_HAS(ops,
   * call_stream)). Runs operation `op` as call() does, with a stream of data
   * in and/or out: an operation that takes data ("image.write") reads it with
   * `read` until it returns 0; one that gives data ("image.read") hands it to
   * `write` in pieces of at most a few MiB. The driver holds at most a few
   * chunks of the data at a time, whatever its length. `read` or `write` may
   * be NULL when the operation does not use it (EINVAL if it does). Any
   * operation may be called this way (the callbacks are then unused); the
   * streaming operations may only be called this way (call() refuses them
   * with EINVAL). The answer and errors are as for call().
   */
  int (*call_stream)(rbdvol_driver* driver, const char* op, const char* request,
                     rbdvol_read_fn read, void* read_ctx, rbdvol_write_fn write, void* write_ctx,
                     rbdvol_progress_fn progress, void* progress_ctx, char** answer, char** errmsg);
} rbdvol_driver_ops;

/*
 * The size of the first table of ABI 1: up to and including free_string.
 * Every plugin of ABI 1 has at least this much; a host refuses a shorter
 * table and accepts any longer one. It never changes when members are added.
 */
#define RBDVOL_DRIVER_OPS_V1_SIZE \
  (offsetof(rbdvol_driver_ops, free_string) + sizeof(((rbdvol_driver_ops*)0)->free_string))

/*
 * True when the table `ops` (whose struct_size is trusted only after the ABI
 * version check) is long enough to hold `member`. Use it before touching any
 * member added after the first ABI-1 table.
 */
#define RBDVOL_DRIVER_OPS_HAS(ops, member) \
  ((size_t)(ops)->struct_size >=           \
   offsetof(rbdvol_driver_ops, member) + sizeof(((rbdvol_driver_ops*)0)->member))

/*
 * The one exported entry point. Returns the plugin's table, which stays
 * valid until the library is unloaded. Never NULL.
 */
RBDVOL_EXPORT const rbdvol_driver_ops* rbdvol_driver_entry(void);

typedef const rbdvol_driver_ops* (*rbdvol_driver_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* RBDVOL_DRIVER_H */
