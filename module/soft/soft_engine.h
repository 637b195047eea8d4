/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wd_soft execution engines: the code that carries out one WarpDrive
 * command on the CPU, reaching process memory only through the framework's
 * memory cursors.
 */
#ifndef _SOFT_ENGINE_H
#define _SOFT_ENGINE_H

#include <linux/types.h>
#include <linux/zlib.h>

#include <warpdrive/driver.h>

/* Bytes of the scratch buffer used to probe for output past the end of dst. */
#define SOFT_ENGINE_SPILL_LEN	16

/* Segments one wd_mem_segs() call fills for a cursor. */
#define SOFT_SEGS		64

/**
 * struct soft_segs - the batch of segments a cursor holds
 * @seg: what wd_mem_segs() gave, from the cursor's position
 * @nr: segments in @seg; the batch is used up when @i reaches it
 * @i: the segment the cursor is in
 * @off: bytes of @seg[@i] consumed
 */
struct soft_segs {
	struct wd_seg seg[SOFT_SEGS];
	unsigned int nr;
	unsigned int i;
	u32 off;
};

/* Largest src_len or dst_len of one command (reported as max_cmd_len). */
#define SOFT_CMD_MAX_LEN	(1ULL << 30)

/**
 * struct soft_engine - per worker thread state of the execution engines
 * @deflate_ws: zlib deflate workspace, sized for the largest window and
 *              memory level the engine uses.
 * @inflate_ws: zlib inflate workspace (zlib_inflate_workspacesize()).
 * @stream_ws: zlib inflate workspace of @stream.
 * @stream: INFLATE stream kept between commands (WD_CMD_F_STREAM); its
 *          workspace is separate, so other commands may run in between.
 * @stream_open: @stream holds a stream that WD_CMD_F_CONTINUE resumes.
 * @stream_format: WD_FMT_* of the open stream.
 * @max_len: largest src_len or dst_len of a command (WD_ST_TOO_BIG above).
 * @cancel: set (by another thread) when the queue stops: the command in
 *          flight ends with WD_ST_CANCELLED at the engine's next check,
 *          which comes at least once per page of input or output.
 * @job: memory accesses of the command being run.
 * @src: cursor over the source buffer of the command being run.
 * @dst: cursor over the destination buffer of the command being run.
 * @src_segs: segments of @src being worked on.
 * @dst_segs: segments of @dst being worked on.
 * @spill: scratch output buffer; see soft_engine.c for its use.
 * @yield_due: NULL when the engine's thread has a CPU of its own
 *             (engines=queue); otherwise asked at every piece of a
 *             command whether another queue waits for the execution unit
 *             this thread holds (engines=cpu or a number): then the engine
 *             lets go of the command's memory (wd_mem_job_pause()) and
 *             calls @yield.
 * @yield: hands the execution unit to the queue waiting for it and gets
 *         it back; false if the queue stopped meanwhile (the command then
 *         ends cancelled).
 * @yield_arg: argument of @yield_due and @yield.
 * @yields: times this engine set a command aside in @yield.
 * @moved: a piece was done since the thread got its execution unit; it
 *         never yields before that, so every hand-over is progress.
 *
 * One engine runs one command at a time; give each worker thread its own.
 * The cursors live here rather than on the stack because they are large.
 */
struct soft_engine {
	u64 max_len;
	void *deflate_ws;
	void *inflate_ws;
	void *stream_ws;
	z_stream stream;
	bool stream_open;
	u32 stream_format;
	bool cancel;
	struct wd_mem_job job;
	struct wd_mem_cursor src;
	struct wd_mem_cursor dst;
	struct soft_segs src_segs;
	struct soft_segs dst_segs;
	u8 spill[SOFT_ENGINE_SPILL_LEN];
	bool (*yield_due)(void *arg);
	bool (*yield)(void *arg);
	void *yield_arg;
	u64 yields;
	bool moved;
};

/**
 * soft_engine_init() - prepare an engine
 * @eng: engine to initialise
 * @max_len: largest src_len or dst_len it accepts
 *
 * Allocates the zlib workspaces, so no command ever allocates memory.
 *
 * Context: process context, may sleep.
 * Return: 0 or -ENOMEM.
 */
int soft_engine_init(struct soft_engine *eng, u64 max_len);

/**
 * soft_engine_fini() - release what soft_engine_init() allocated
 * @eng: engine; may be one whose soft_engine_init() failed
 */
void soft_engine_fini(struct soft_engine *eng);

/**
 * soft_engine_reset() - forget what the previous binding left
 * @eng: engine, idle
 *
 * Drops a kept INFLATE stream and clears @eng->cancel, before the engine
 * serves a new binding of its queue.
 */
void soft_engine_reset(struct soft_engine *eng);

/**
 * soft_engine_batch_begin() - begin a batch of commands of @q
 * @eng: engine of the calling worker thread
 * @q: queue the commands come from
 *
 * The commands of a batch share one memory job (wd_mem_job_next() between
 * them): the translations it cached stay valid from one command to the
 * next while no translation of the context is removed. Call
 * soft_engine_batch_end() before the thread serves another queue.
 */
void soft_engine_batch_begin(struct soft_engine *eng, struct wd_queue *q);

/**
 * soft_engine_batch_end() - end the batch soft_engine_batch_begin() began
 * @eng: engine
 */
void soft_engine_batch_end(struct soft_engine *eng);

/**
 * soft_engine_run() - execute one command
 * @eng: engine of the calling worker thread
 * @q: queue the command was fetched from; its context owns the memory;
 *     the one of the batch (soft_engine_batch_begin()) it runs in
 * @cmd: private copy of the command; every field is validated here
 * @cqe: completion to fill in: status, result and consumed (the caller
 *       sets tag and opcode)
 *
 * Context: kernel thread, may sleep; reschedules on long commands and
 * stops early (WD_ST_CANCELLED) once @eng->cancel is set.
 */
void soft_engine_run(struct soft_engine *eng, struct wd_queue *q,
		     const struct wd_cmd *cmd, struct wd_cqe *cqe);

#endif /* _SOFT_ENGINE_H */
