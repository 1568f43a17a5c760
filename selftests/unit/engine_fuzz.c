// SPDX-License-Identifier: GPL-2.0
/*
 * engine_fuzz.c - libFuzzer target for the engine (`make fuzz`): the input
 * is decoded into an event stream of up to four QEMU-like processes (exits,
 * entries, doorbells, interrupts, system calls, thread and process exits,
 * pid filters, resets, whole requests), against caps that the input picks
 * small enough to be hit.  Whatever the stream, the engine must not crash,
 * leak or hit undefined behaviour, and after every checkpoint:
 *
 *  - every histogram's count is its buckets plus overflow;
 *  - on each vCPU and path the seven stages have the same count, and the
 *    six stage sums add up to the sum of "total" (timestamps of one request
 *    are clamped, so the partition is exact);
 *  - "requests" is the number of requests in the stage histograms;
 *  - a VM's inflight is the number of request slots not free;
 *  - caps hold; every vCPU has a thread slot and its own vcpu_id (a vCPU
 *    that KVM runs from a new thread stays one vCPU); the VMs and vCPUs
 *    allocated are exactly those tracked (and none once all dropped);
 *  - the hist and stats text parses back with the reader's strict parser
 *    (userspace/parse.c), with as many VMs as the engine tracks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>

#include "engine_fixture.h"
#include "fuzz_input.h"
#include "parse.h"

static const s32 tgids[] = { 100, 200, 300, 400 };
static const u32 reasons[] = { 0x7b, 0x400, 0x78, 0x60, 0x1e, 0x30, 0x0c };
static const u64 addrs[] = { 0xfebfb000, 0xfebfb004, 0xfebfc000, 0xc000, 0xc004,
			     0xfee000b0, 0xfec00000, 0x70, 0x20, 0xe9 };
static const u32 syscalls[] = { 271, 209, 208, 17, 18, 16, 202, 1, 0, 426, 232,
				281, 74, 75, 295, 296, 7, 23, 270, 333, 441, 328 };
static const s64 rets[] = { -4, -11, 0, 1, 2, 3, 8, 4096, 32 };

struct stream {
	struct fx f;
	struct in in;
	u64 now;
};

static s32 pick_tgid(struct stream *s)
{
	return tgids[u8_of(&s->in) % 4];
}

static s32 pick_tid(struct stream *s, s32 tgid)
{
	return tgid + u8_of(&s->in) % 12;
}

static u64 tick(struct stream *s)
{
	uint8_t b = u8_of(&s->in);

	if (b == 0xff)		/* clocks of two CPUs disagree */
		s->now -= s->now > 5000 ? 5000 : 0;
	else
		s->now += (u64)b * (b < 0x80 ? 1 : 997);
	return s->now;
}

/* One whole request as QEMU makes it, native or threads. */
static void request(struct stream *s)
{
	struct kvl_engine *e = &s->f.eng;
	s32 pid = pick_tgid(s), vcpu = u8_of(&s->in) % 3;
	s32 vt = pid + vcpu, loop = pid + 10, pool = pid + 11;
	bool threads = u8_of(&s->in) & 1;
	s32 vec = 0x30 + vcpu;
	/* 11 file descriptors: more disks than a VM keeps, and -1 */
	s32 fd = (s32)(u8_of(&s->in) % 11) - 1;

	kvl_ev_exit(e, pid, vt, "qemu", vcpu, KVL_ISA_SVM, 0x400, tick(s));
	kvl_ev_doorbell(e, pid, vt, false, 0xfebfb000, tick(s));
	kvl_ev_entry(e, pid, vt, tick(s));
	kvl_ev_sys_exit(e, pid, loop, SYS_ppoll, 1, tick(s));
	if (threads) {
		kvl_ev_sys_enter(e, pid, pool, SYS_pread64, (u32)fd, KVL_OFF_UNKNOWN, tick(s));
		kvl_ev_sys_exit(e, pid, pool, SYS_pread64, 4096, tick(s));
	} else {
		struct kvl_iocb_info io = { 0x7f0000001000ULL, 4096, fd };

		kvl_ev_sys_enter(e, pid, loop, SYS_io_submit, 1,
				 KVL_OFF_UNKNOWN, tick(s));
		kvl_ev_io_submit_exit(e, pid, loop, 0x7f0000100000ULL, &io,
				      fd >= 0 ? 1 : 0, 1, tick(s));
	}
	kvl_ev_sys_enter(e, pid, loop, SYS_ppoll, 0, KVL_OFF_UNKNOWN, tick(s));
	kvl_ev_sys_exit(e, pid, loop, SYS_ppoll, 1, tick(s));
	kvl_ev_sys_enter(e, pid, loop, SYS_write, 0, KVL_OFF_UNKNOWN, tick(s));
	kvl_ev_irq(e, pid, loop, vcpu, vec, tick(s));
	kvl_ev_apic_accept(e, pid, loop, vcpu, vec, tick(s));
	kvl_ev_sys_exit(e, pid, loop, SYS_write, 8, tick(s));
	kvl_ev_exit(e, pid, vt, "qemu", vcpu, KVL_ISA_SVM, 0x78, tick(s));
	kvl_ev_inj_virq(e, pid, vt, vec, tick(s));
	kvl_ev_entry(e, pid, vt, tick(s));
}

static void hist_consistent(const struct kvl_hist *h, const char *what)
{
	u64 n = h->overflow;
	unsigned int i;

	for (i = 0; i < KVL_HIST_NBUCKETS; i++)
		n += h->buckets[i];
	CHECK(n == h->count, "%s: count %llu, buckets+overflow %llu", what,
	      (unsigned long long)h->count, (unsigned long long)n);
	CHECK(h->negative <= h->buckets[0], "%s: negative %llu > bucket 0 %llu",
	      what, (unsigned long long)h->negative,
	      (unsigned long long)h->buckets[0]);
	CHECK(!h->count || h->min <= h->max, "%s: min %llu > max %llu", what,
	      (unsigned long long)h->min, (unsigned long long)h->max);
}

static u32 free_reqs(const struct kvl_vm *vm)
{
	u32 n = 0;
	u16 i;

	for (i = vm->free_req; i != KVL_NO_REQ && n <= vm->cfg->max_inflight;
	     i = vm->reqs[i].next)
		n++;
	return n;
}

/* Each recorded request is in one disk's rows, or counted as in none. */
static void check_disks(const struct kvl_vm *vm)
{
	u64 n = vm->counters[KVL_C_REQS_NO_DISK] + vm->counters[KVL_C_DROP_DISKS];
	u32 d, p, e;

	CHECK(vm->nr_disks <= KVL_DISKS, "vm %d: %u disks", vm->tgid, vm->nr_disks);
	for (d = 0; d < vm->nr_disks; d++) {
		const struct kvl_disk *dk = &vm->disks[d];

		for (e = 0; e < d; e++)
			CHECK(vm->disks[e].fd != dk->fd, "vm %d: disk fd %d twice",
			      vm->tgid, dk->fd);
		for (p = 0; p < KVL_NR_PATHS; p++) {
			hist_consistent(&dk->hist[p][KVL_DS_SUBMIT_TO_IRQ], "disk submit_to_irq");
			hist_consistent(&dk->hist[p][KVL_DS_TOTAL], "disk total");
			CHECK(dk->hist[p][KVL_DS_SUBMIT_TO_IRQ].count == dk->hist[p][KVL_DS_TOTAL].count,
			      "vm %d disk %d: io %llu, total %llu", vm->tgid, dk->fd,
			      (unsigned long long)dk->hist[p][KVL_DS_SUBMIT_TO_IRQ].count,
			      (unsigned long long)dk->hist[p][KVL_DS_TOTAL].count);
			n += dk->hist[p][KVL_DS_TOTAL].count;
		}
	}
	CHECK(n == vm->counters[KVL_C_REQUESTS],
	      "vm %d: %llu requests by disk, %llu recorded", vm->tgid,
	      (unsigned long long)n,
	      (unsigned long long)vm->counters[KVL_C_REQUESTS]);
}

static void check_vm(const struct kvl_vm *vm, u64 *requests)
{
	const struct kvl_config *cfg = vm->cfg;
	u32 v, p, st, t, owners;

	check_disks(vm);

	CHECK(vm->nr_vcpus <= cfg->max_vcpus, "vm %d: %u vCPUs", vm->tgid, vm->nr_vcpus);
	CHECK(vm->inflight + free_reqs(vm) == cfg->max_inflight,
	      "vm %d: inflight %u + free %u != %u", vm->tgid, vm->inflight,
	      free_reqs(vm), cfg->max_inflight);
	for (v = 0; v < vm->nr_vcpus; v++) {
		const struct kvl_vcpu *vc = vm->vcpus[v];

		for (owners = 0, t = 0; t < cfg->max_threads; t++)
			if (vm->threads[t].tid > 0 && vm->threads[t].vcpu == (s16)v)
				owners++;
		CHECK(owners, "vm %d: vCPU %u (id %u) has no thread", vm->tgid, v,
		      vc->vcpu_id);
		for (t = 0; t < v; t++)
			CHECK(vm->vcpus[t]->vcpu_id != vc->vcpu_id,
			      "vm %d: vCPU id %u tracked twice", vm->tgid, vc->vcpu_id);
		for (t = 0; t < KVL_EXIT_SLOTS; t++)
			hist_consistent(&vc->stats.exits[t].hist, "exit");
		for (p = 0; p < KVL_NR_PATHS; p++) {
			const struct kvl_hist *h = vc->stats.stages[p];
			u64 sum = 0;
			bool overflow = false;

			for (st = 0; st < KVL_NR_STAGES; st++) {
				if (!kvl_stage_name(p, st)) {	/* not this path's */
					CHECK(!h[st].count, "vm %d vCPU %u %s: stage %u has %llu",
					      vm->tgid, v, kvl_path_name(p), st,
					      (unsigned long long)h[st].count);
					continue;
				}
				hist_consistent(&h[st], kvl_stage_name(p, st));
				CHECK(h[st].count == h[KVL_ST_TOTAL].count,
				      "vm %d vCPU %u %s: %s count %llu, total %llu",
				      vm->tgid, v, kvl_path_name(p), kvl_stage_name(p, st),
				      (unsigned long long)h[st].count,
				      (unsigned long long)h[KVL_ST_TOTAL].count);
				overflow |= h[st].overflow != 0;
				if (st < KVL_ST_TOTAL)
					sum += h[st].sum;
			}
			CHECK(overflow || sum == h[KVL_ST_TOTAL].sum,
			      "vm %d vCPU %u %s: stage sums %llu, total %llu", vm->tgid, v,
			      kvl_path_name(p), (unsigned long long)sum,
			      (unsigned long long)h[KVL_ST_TOTAL].sum);
			*requests += h[KVL_ST_TOTAL].count;
		}
	}
}

static void check(struct stream *s)
{
	struct kvl_engine *e = &s->f.eng;
	struct fx_buf hb = { 0 }, sb = { 0 };
	struct kvl_sink hout = { fx_buf_printf, &hb }, sout = { fx_buf_printf, &sb };
	struct kvl_snap snap;
	struct kvl_perr pe;
	u64 requests = 0, vcpus = 0;
	u32 i, j, nvms = 0, nexited = 0, shadowed = 0;

	kvl_engine_flush(e);
	for (i = 0; i < e->cfg.max_vms; i++) {
		const struct kvl_vm *vm = e->vms[i];

		if (!vm)
			continue;
		nvms++;
		vcpus += vm->nr_vcpus;
		if (vm->exited) {
			/* kept for reading: nothing in flight, probes skip it */
			nexited++;
			CHECK(vm->inflight == 0, "exited vm %d: %u in flight",
			      vm->tgid, vm->inflight);
			CHECK(kvl_engine_find_vm(e, vm->tgid) != vm,
			      "exited vm %d is found", vm->tgid);
			for (j = 0; j < e->cfg.max_vms; j++)
				if (e->vms[j] && e->vms[j] != vm &&
				    e->vms[j]->tgid == vm->tgid &&
				    (!e->vms[j]->exited ||
				     e->vms[j]->exited_ts > vm->exited_ts ||
				     (e->vms[j]->exited_ts == vm->exited_ts &&
				      j > i))) {
					shadowed++;	/* a later VM has its pid */
					break;
				}
		} else {
			CHECK(kvl_engine_maybe_vm(e, vm->tgid), "vm %d not in the filter",
			      vm->tgid);
		}
		check_vm(vm, &requests);
	}
	CHECK(nvms == e->nr_vms + e->nr_exited && nexited == e->nr_exited &&
	      nvms == (u32)s->f.live_vms,
	      "%u VMs in the table (%u exited), nr_vms %u, nr_exited %u, %d allocated",
	      nvms, nexited, e->nr_vms, e->nr_exited, s->f.live_vms);
	CHECK(vcpus == (u64)s->f.live_vcpus, "%llu vCPUs tracked, %d allocated",
	      (unsigned long long)vcpus, s->f.live_vcpus);
	CHECK(requests == kvl_engine_counter(e, KVL_C_REQUESTS),
	      "%llu requests in the histograms, counter %llu", (unsigned long long)requests,
	      (unsigned long long)kvl_engine_counter(e, KVL_C_REQUESTS));

	/* what the module prints, the reader parses */
	kvl_engine_print_hist(e, &hout);
	kvl_engine_print_stats(e, &sout, 4096);
	kvl_snap_init(&snap);
	CHECK(!kvl_parse_hist(&snap, hb.s, hb.len, &pe),
	      "the hist text does not parse: line %u: %s\n%s", pe.line, pe.msg, hb.s);
	CHECK(snap.nr_vms == nvms - shadowed, "%u VMs parsed, %u tracked, %u shadowed",
	      snap.nr_vms, nvms, shadowed);
	CHECK(!kvl_parse_stats(&snap, sb.s, sb.len, &pe),
	      "the stats text does not parse: line %u: %s\n%s", pe.line, pe.msg, sb.s);
	kvl_snap_free(&snap);
	free(hb.s);
	free(sb.s);
}

static void config(struct stream *s)
{
	struct kvl_config c;

	kvl_config_defaults(&c);
	c.max_vms = 1 + u8_of(&s->in) % 4;
	c.max_vcpus = 1 + u8_of(&s->in) % 6;
	c.max_threads = 8 << (u8_of(&s->in) % 2);
	c.max_inflight = 1 + u8_of(&s->in) % 40;
	c.doorbell_timeout_ns = 1 + u16_of(&s->in) * 1000ULL;
	c.req_timeout_ns = 1 + u16_of(&s->in) * 10000ULL;
	fx_init_cfg(&s->f, &c);
	s->now = 1000000000ULL;
}

/*
 * virtio-pci virtqueues (engine/virtqueue.c): common-configuration
 * writes on two devices, ioeventfds assigned and read, used rings located
 * and read, in any order and with any values.
 */
/*
 * QEMU's memory, as the engine reads used elements and descriptors
 * through it: bytes of the input, or a failed read now and then.
 */
static struct in *fuzz_mem;

static int fuzz_read(u64 hva, void *buf, u32 len)
{
	u8 *b = buf;
	u32 i;

	(void)hva;
	if (u8_of(fuzz_mem) % 8 == 0)
		return -1;
	for (i = 0; i < len; i++)	/* small values: heads, types, lengths */
		b[i] = u8_of(fuzz_mem) % 4 ? u8_of(fuzz_mem) % 8 : u8_of(fuzz_mem);
	return 0;
}

static void virtio(struct stream *s, s32 tgid, s32 tid)
{
	static const u32 offs[] = { 0x14, 0x16, 0x1c, 0x30, 0x34, 0x3000,
				    0x18, 0x20, 0x24 };
	static const u32 lens[] = { 1, 2, 2, 4, 4, 2, 2, 4, 4 };
	struct kvl_engine *e = &s->f.eng;
	u64 cfg = 0xfebf0000ULL + 0x4000ULL * (u8_of(&s->in) % 3);
	u64 hva[KVL_VQS], gpa;
	u16 idx[KVL_VQS];
	u32 k = u8_of(&s->in) % 9, n, i, ok;

	switch (u8_of(&s->in) % 7) {
	case 0:
		kvl_ev_mmio_write(e, tgid, cfg + offs[k], lens[k],
				  u8_of(&s->in) % 4 ? u8_of(&s->in) % 5 :
				  u16_of(&s->in) * 4096ULL);
		break;
	case 1:
		kvl_ev_ioeventfd(e, tgid, 20 + u8_of(&s->in) % 40,
				 cfg + 0x3000 + 4 * (u8_of(&s->in) % 5),
				 u8_of(&s->in) % 3);
		break;
	case 2:
		kvl_ev_fd_read(e, tgid, tid, 20 + u8_of(&s->in) % 40, tick(s));
		break;
	case 3:
		gpa = 0;
		if (kvl_ev_vq_wants_hva(e, tgid, cfg + 0x3000 +
					4 * (u8_of(&s->in) % 5), &gpa))
			kvl_ev_vq_hva(e, tgid, cfg + 0x3000 + 4 * (u8_of(&s->in) % 5),
				      0x7f0000000000ULL + gpa,
				      (s32)(u8_of(&s->in) % 8) - 1);
		break;
	default:
		n = kvl_ev_used_where(e, tgid, hva);
		CHECK(n <= KVL_VQS, "used_where gave %u queues", n);
		ok = 0;
		for (i = 0; i < n; i++) {
			idx[i] = u8_of(&s->in) % 8;
			if (hva[i] && u8_of(&s->in) % 8)
				ok |= 1u << i;
		}
		fuzz_mem = &s->in;
		e->read_qemu = u8_of(&s->in) % 2 ? fuzz_read : NULL;
		if (n)
			kvl_ev_used_seen(e, tgid, tid, idx, ok, n,
					 u8_of(&s->in) % 2);
		break;
	case 5:
		gpa = u8_of(&s->in) % 4 * 0x1000ULL;
		kvl_ev_mem_slot(e, tgid, gpa, u8_of(&s->in) % 3 * 0x2000ULL,
				0x7f0000000000ULL + gpa);
		if (kvl_ev_slot_wanted(e, tgid, &gpa))
			CHECK(!(gpa & 0xfff), "slot wanted at %llx", (unsigned long long)gpa);
		break;
	}
}

/* io_uring: submissions (READV, WRITEV, POLL_ADD) and completions on two rings */
static void uring(struct stream *s, s32 tgid, s32 tid)
{
	static const u32 ops[] = { 1, 2, 6 };
	struct kvl_engine *e = &s->f.eng;
	u64 ctx = 0xffff888000100000ULL + (u8_of(&s->in) & 1) * 0x1000;
	u64 user_data = 0x7f0000002000ULL + 0x100ULL * (u8_of(&s->in) % 6);

	switch (u8_of(&s->in) % 4) {
	case 0:
	case 1:
		kvl_ev_uring_submit(e, tgid, tid, ctx, user_data,
				    ops[u8_of(&s->in) % 3], 9 + u8_of(&s->in) % 3,
				    u8_of(&s->in) % 4 ? 4096 * u8_of(&s->in) :
				    KVL_OFF_UNKNOWN, tick(s));
		break;
	case 2:
		kvl_ev_uring_complete(e, u8_of(&s->in) % 4 ? tgid : 0, tid, ctx,
				      user_data, tick(s));
		break;
	default:
		kvl_engine_set_uring_traced(e, u8_of(&s->in) & 1);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct stream s;
	struct kvl_engine *e = &s.f.eng;

	s.in.p = data;
	s.in.n = size;
	config(&s);
	while (s.in.n) {
		uint8_t op = u8_of(&s.in) % 17;
		s32 tgid = pick_tgid(&s), tid = pick_tid(&s, tgid);

		switch (op) {
		case 0:
		case 1:
			kvl_ev_exit(e, tgid, tid, "qemu", u8_of(&s.in) % 8,
				    1 + u8_of(&s.in) % 3, reasons[u8_of(&s.in) % 7], tick(&s));
			break;
		case 2:
			kvl_ev_entry(e, tgid, tid, tick(&s));
			break;
		case 3:
			kvl_ev_doorbell(e, tgid, tid, u8_of(&s.in) & 1,
					addrs[u8_of(&s.in) % 10], tick(&s));
			break;
		case 4:
			kvl_ev_irq(e, tgid, tid, (s32)(u8_of(&s.in) % 10) - 1,
				   0x2f + u8_of(&s.in) % 6, tick(&s));
			break;
		case 5:
			kvl_ev_apic_accept(e, tgid, tid, u8_of(&s.in) % 9,
					   0x2f + u8_of(&s.in) % 6, tick(&s));
			break;
		case 6:
			kvl_ev_inj_virq(e, tgid, tid, 0x2f + u8_of(&s.in) % 6, tick(&s));
			break;
		case 7:
		case 8:
			kvl_ev_sys_enter(e, tgid, tid, syscalls[u8_of(&s.in) % 22],
					 u16_of(&s.in) | (u32)u8_of(&s.in) << 16, KVL_OFF_UNKNOWN, tick(&s));
			/* (no input taken: the corpus decodes as before) */
			(void)kvl_ev_return_wanted(e, tgid, tid, tid & 1, tid % 64);
			break;
		case 9:
		case 10:
			kvl_ev_sys_exit(e, tgid, tid, syscalls[u8_of(&s.in) % 22],
					rets[u8_of(&s.in) % 9], tick(&s));
			break;
		case 11:
			kvl_ev_task_exit(e, tgid, tid, u8_of(&s.in) % 8 == 0,
					 tick(&s));
			break;
		case 12: {
			s32 pids[KVL_MAX_PIDS + 1];
			u32 n = u8_of(&s.in) % 4, i;

			for (i = 0; i < n; i++)
				pids[i] = u8_of(&s.in) % 16 ? tgids[u8_of(&s.in) % 4] : -1;
			if (u8_of(&s.in) % 8 == 0)
				n = KVL_MAX_PIDS + 1;	/* too many: refused */
			kvl_engine_set_pids(e, pids, n);
			break;
		}
		case 13:
			if (u8_of(&s.in) % 4 == 0)
				kvl_engine_reset(e);
			else
				check(&s);
			break;
		case 15:
			virtio(&s, tgid, tid);
			break;
		case 16:
			uring(&s, tgid, tid);
			break;
		default:
			request(&s);
			break;
		}
	}
	check(&s);
	fx_fini(&s.f);
	CHECK(!s.f.live_vms && !s.f.live_vcpus, "%d VMs, %d vCPUs left after dropping all",
	      s.f.live_vms, s.f.live_vcpus);
	return 0;
}
