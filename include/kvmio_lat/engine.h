/* SPDX-License-Identifier: GPL-2.0 */
/*
 * engine.h - follow virtio requests of QEMU-KVM guests through their stages
 * and keep per-VM, per-vCPU, per-path, per-stage latency histograms.
 *
 * The engine sees events (KVM tracepoints and system calls of the threads of
 * VM processes), each with a timestamp in ns, the thread id and the process
 * id.  It knows nothing about tracepoints: kvmio_lat.ko feeds it from its
 * probes, the reader feeds it from a trace-cmd recording, the unit tests feed
 * it synthetic streams.  Documentation/design.rst describes the
 * model and the attribution rules.
 *
 * Concurrency (kernel): per-thread state is written only by its own thread;
 * exit histograms only by the vCPU thread; doorbells go through a per-vCPU
 * single-producer ring; request matching is under the VM's lock, taken only
 * on I/O events, never on plain exits.  A finished request goes into its
 * doorbell vCPU's mailbox, and only the holder of that vCPU's drain bit
 * writes its stage histograms: the vCPU thread at kvm_entry (never waiting
 * for the bit), or a reader flushing before it prints.  Callers hold an RCU
 * read lock around every kvl_ev_*() call and free VMs after a grace period
 * (ops->free_vm).
 */
#ifndef KVMIO_LAT_ENGINE_H
#define KVMIO_LAT_ENGINE_H

#include "shim.h"
#include "hist.h"

enum kvl_path {
	KVL_PATH_NATIVE,
	KVL_PATH_THREADS,
	KVL_PATH_URING,		/* aio=io_uring */
	KVL_NR_PATHS
};

/*
 * Stage indices; their names differ by path (kvl_stage_name(), NULL for
 * a stage the path does not have: only io_uring sees its completion
 * apart from its reap).
 */
enum kvl_stage {
	KVL_ST_DOORBELL_TO_WAKE,
	KVL_ST_WAKE_TO_SUBMIT,	/* threads: wake_to_dispatch */
	KVL_ST_SUBMIT,		/* threads: io */
	KVL_ST_SUBMIT_TO_REAP,	/* threads: io_to_reap; io_uring: submit_to_complete */
	KVL_ST_COMPLETE_TO_REAP,	/* io_uring only */
	KVL_ST_REAP_TO_IRQ,
	KVL_ST_IRQ_TO_ENTRY,
	KVL_ST_TOTAL,
	KVL_NR_STAGES
};

/*
 * A request's timestamps (kvl_req.t[]): stage i runs from stamp i to
 * stamp i + 1, total from the first to the last.  A path without a
 * completion of its own (native, threads) has it equal to its reap.
 */
enum kvl_stamp {
	KVL_AT_DOORBELL,
	KVL_AT_WAKE,
	KVL_AT_SUBMIT,
	KVL_AT_SUBMIT_END,	/* io_uring: the kernel took this request */
	KVL_AT_COMPLETE,	/* io_uring: the kernel posted its completion */
	KVL_AT_REAP,
	KVL_AT_IRQ,
	KVL_AT_ENTRY,
	KVL_NR_STAMPS
};

/* KVM's own values for the kvm_exit "isa" field. */
#define KVL_ISA_VMX	1
#define KVL_ISA_SVM	2

/*
 * Exit-reason slots per vCPU; the last one collects every other reason.
 * The reasons I/O latency depends on (kvl_exit_reserved()) have a slot
 * from the vCPU's first exit on; the others take the rest as they come.
 */
#define KVL_EXIT_SLOTS		16
#define KVL_EXIT_OTHER		0xffffffffu

/* Doorbells a vCPU may have outstanding before new ones are dropped. */
#define KVL_DOORBELL_RING		16
/*
 * Finished requests a vCPU's mailbox holds until the vCPU (or a reader)
 * drains it.  It fills only if a vCPU does not enter the guest while this
 * many of its own requests complete; the completing thread then drains it
 * (counted as mailbox_full).
 */
#define KVL_MAILBOX		32
/* Doorbell addresses a VM learns (one per device or notify region). */
#define KVL_KNOWN_DOORBELLS	16

#define KVL_COMM_LEN		16

/*
 * Disks a VM keeps histograms for.  A disk is the file descriptor QEMU
 * does a request's I/O on: a pread's, or the iocb's aio_fildes.
 */
#define KVL_DISKS		8
/*
 * iocbs of one io_submit the module reads (file descriptor, offset):
 * QEMU's batch is one queue's requests, as deep as the guest's queue.
 */
#define KVL_SUBMIT_FDS		64
/* no file descriptor known (a recording's io_submit, an iocb past 64) */
#define KVL_FD_UNKNOWN		(-1)
#define KVL_FD_NONE		(-3)	/* an interrupt bound to no disk */
#define KVL_OFF_UNKNOWN		(-1LL)

/*
 * MSI interrupts (target vCPU, vector) a VM learns the disk of: one per
 * queue's MSI-X vector.  A key gets KVL_BIND_VOTES interrupts that
 * completed requests of one disk only, three in four of its votes, before
 * it is bound; a bound key then completes requests of its disk only.
 */
#define KVL_IRQ_BINDS		16
#define KVL_VQS			32	/* virtqueues learnt per VM (virtqueue.c) */
#define KVL_DISK_VOTES		4	/* a device's disk: this many votes ahead */
#define KVL_BIND_FDS		3
#define KVL_BIND_VOTES		8
/* used-ring elements named per queue and interrupt, at most (the rest guessed) */
#define KVL_USED_LOOK		16
/*
 * Requests a pool queue remembers as QEMU took them, until completed: more
 * than one queue holds in flight (QEMU's pool may complete one long after
 * many others).
 */
#define KVL_ANNOUNCED		32
/* guest memory slots a VM keeps, to read its virtqueues' descriptors */
#define KVL_MEM_SLOTS		4
/* io_uring rings a VM's requests are followed on (one per event loop) */
#define KVL_URINGS		8

/* Counters; kvl_engine_stat() sums them over VMs. */
enum kvl_counter {
	KVL_C_EVENTS,		/* events handed to a tracked VM */
	KVL_C_REQUESTS,		/* requests completed and recorded */
	KVL_C_DROP_VCPUS,	/* vCPU seen, no room (max_vcpus) */
	KVL_C_DROP_THREADS,	/* thread seen, no room (max_threads) */
	KVL_C_DROP_REQUESTS,	/* request seen, no room (max_inflight) */
	KVL_C_DROP_DOORBELLS,	/* doorbell seen, vCPU's ring full */
	KVL_C_MAILBOX_FULL,	/* mailbox drained by the completing thread */
	KVL_C_DOORBELLS_USERSPACE,	/* port/MMIO write handled in userspace */
	KVL_C_DOORBELLS_EXPIRED,	/* doorbell never followed by I/O */
	KVL_C_DOORBELLS_SKIPPED,	/* passed over for a known doorbell address */
	KVL_C_DOORBELLS_SHARED,	/* I/O with no doorbell of its own */
	KVL_C_SUBMITS_UNMATCHED,	/* I/O with no doorbell to attribute */
	KVL_C_IRQS_UNMATCHED,	/* interrupt with no finished request */
	KVL_C_REQUESTS_EXPIRED,	/* request never completed by an interrupt */
	KVL_C_LOST,		/* inconsistent stream: exit without entry... */
	KVL_C_REQS_POSTED,	/* ended by a posted interrupt (APICv/AVIC) */
	KVL_C_REQS_INJECTED,	/* ended by an injected one (kvm_inj_virq) */
	KVL_C_REQUESTS_STALE,	/* rung before a reset or resume: not recorded */
	KVL_C_DOORBELLS_IGNORED,	/* not a known I/O doorbell, ring half full */
	KVL_C_REQS_NO_IRQ,	/* no interrupt of its own within irq_timeout */
	KVL_C_DOORBELLS_UNWATCHED,	/* rung while the system calls were unwatched */
	KVL_C_DROP_DISKS,	/* request of a disk with no room (KVL_DISKS) */
	KVL_C_REQS_NO_DISK,	/* request whose file descriptor is unknown */
	KVL_C_IRQS_BOUND,	/* MSI (vCPU, vector) learnt as one disk's */
	KVL_C_IRQ_BINDS_FORGOTTEN,	/* bindings dropped: a request had no irq */
	KVL_C_REQS_BY_USED_RING,	/* its interrupt told by its used ring */
	KVL_C_REQS_BY_BLOCK,	/* ... which named it by its block */
	KVL_NR_COUNTERS
};

struct kvl_config {
	u32 max_vms;		/* VMs tracked at once */
	u32 max_vcpus;		/* per VM */
	u32 max_threads;	/* per VM, rounded up to a power of two */
	u32 max_inflight;	/* requests per VM */
	u64 doorbell_timeout_ns;	/* a doorbell older than this is stale */
	u64 irq_timeout_ns;	/* I/O ended this long before an irq: not its */
	u64 req_timeout_ns;	/* a request older than this is abandoned */
};

struct kvl_exit_slot {
	u32 reason;		/* KVL_EXIT_OTHER for the catch-all slot */
	u32 used;
	struct kvl_hist hist;
};

/* What a vCPU keeps: its histograms.  One writer per histogram. */
struct kvl_vcpu_stats {
	struct kvl_exit_slot exits[KVL_EXIT_SLOTS];
	struct kvl_hist stages[KVL_NR_PATHS][KVL_NR_STAGES];
};

enum kvl_doorbell_state { KVL_DOORBELL_FREE, KVL_DOORBELL_LIVE, KVL_DOORBELL_TAKEN };

struct kvl_doorbell {
	u32 state;		/* enum kvl_doorbell_state; cmpxchg */
	u32 pio;		/* a port write, else MMIO */
	u64 ts;			/* the doorbell's kvm_exit */
	u64 wake;		/* first event-loop wake after it, 0 = none */
	u64 addr;
};

/*
 * Per disk and path:
 *  io             the host's I/O, exact at any queue depth: a pool
 *                 worker's system call (threads); io_submit to the moment
 *                 the completion is seen in the AIO ring (native: when
 *                 QEMU's event loop wakes or raises an interrupt; none
 *                 where the ring is not read, as in a recording);
 *  submit_to_irq  QEMU handing the request to the host (io_submit, the
 *                 worker's system call) to the interrupt QEMU raises for
 *                 it, which holds the host's I/O however QEMU reaped it
 *                 (the reap is not always seen: rule 6 of
 *                 Documentation/design.rst), but at depth depends on
 *                 which interrupt the engine gave the request;
 *  total          doorbell to the guest's entry.
 */
enum kvl_disk_stage {
	KVL_DS_IO,
	KVL_DS_SUBMIT_TO_IRQ,
	KVL_DS_TOTAL,
	KVL_NR_DISK_STAGES
};

struct kvl_disk {
	s32 fd;
	struct kvl_hist hist[KVL_NR_PATHS][KVL_NR_DISK_STAGES];
};

/* A finished request on its way to its doorbell vCPU's histograms. */
struct kvl_done {
	u64 t[KVL_NR_STAMPS];	/* as in struct kvl_req, in order */
	u64 path;
};

/* the largest vCPU id the engine tracks: KVM's are small ints */
#define KVL_VCPU_ID_MAX		0x7fffffffu

struct kvl_vcpu {
	/* written by the vCPU thread */
	u32 vcpu_id;
	u32 isa;
	u64 exit_ts;		/* 0 while in guest mode */
	u32 exit_reason;
	u32 exit_slot;		/* the slot of the last exit's reason */
	s32 inj_vector;		/* -1: nothing injected since last entry */
	u64 inj_ts;
	s32 doorbell_undo;		/* ring slot still cancellable, -1 if none */
	u32 doorbell_head;		/* producer index */
	u64 exits;		/* plain counters, single writer */
	u64 entries;
	u64 dropped_doorbells;
	u64 ignored_doorbells;	/* unknown address, ring half full */
	u64 unwatched_doorbells;	/* rung while system calls were unwatched */
	u64 doorbells_userspace;

	/* written under the VM lock */
	u32 doorbell_tail ____cacheline_aligned_in_smp;	/* consumer index */
	u32 awaiting;		/* requests waiting for this vCPU's entry */
	u16 await_head;
	u32 mail_head;		/* mailbox producer index */

	/* written by the holder of the drain bit */
	u32 draining ____cacheline_aligned_in_smp;	/* drain bit; cmpxchg */
	u32 mail_tail;		/* mailbox consumer index */

	struct kvl_doorbell doorbells[KVL_DOORBELL_RING];
	struct kvl_done mailbox[KVL_MAILBOX];
	struct kvl_vcpu_stats stats;
};

#define KVL_T_VCPU	0x1	/* runs a vCPU */
#define KVL_T_LOOP	0x2	/* waited in ppoll/epoll: an event loop */
#define KVL_T_POOL	0x4	/* ran pread/pwrite & co: a pool worker */
#define KVL_T_IRQ	0x8	/* raised an interrupt: its writes' returns matter */

/* Per-thread state, written by its own thread (tid is set once, under lock). */
struct kvl_thread {
	s32 tid;		/* 0 = free slot */
	s16 vcpu;		/* index into vm->vcpus, -1 otherwise */
	u16 flags;
	u32 sys_nr;		/* syscall in progress, ~0 when none */
	u32 sys_arg;
	u64 sys_ts;
	u64 last_wake;		/* last return from an event-loop wait */
	u64 prev_wake;		/* the one before */
	u64 getevents_ts;	/* io_getevents that returned events, since wake */
	u32 getevents_n;
	u16 cur_req;		/* pool request running on this thread */
	u8 irq_pending;		/* an interrupt raised, target not final */
	u8 irq_line;		/* it is a line (kvm_set_irq), not an MSI */
	s32 irq_dest;		/* its destination APIC id, -1 unknown */
	s32 irq_vector;
	u64 irq_ts;
	/*
	 * Its Linux AIO completion ring (its io_submit's context), read
	 * by its own probes (kvl_ev_ring_where()): up to which index, and
	 * whether a read worked - then its requests wait to be seen there.
	 */
	u64 aio_ring;
	u32 ring_seen;		/* KVL_RING_UNSEEN: not read yet */
	u32 ring_ok;
	/* the device whose ioeventfd it read last (virtqueue.c), 0: none */
	u64 handling_cfg;
	u64 handling_addr;	/* ... and that queue's notify address */
	u64 handling_ts;	/* ... and when it read it */
	u64 used_irq_ts;	/* its last interrupt (irq.c) */
};

#define KVL_RING_UNSEEN		0xffffffffu
/* completions one look at a ring reads, at most: the rest the next time */
#define KVL_RING_LOOK		16

#define KVL_TID_DEAD	(-1)	/* tombstone in the thread table */

#define KVL_NO_REQ	0xffff
#define KVL_NO_VQ	0xffff

/* How an interrupt reaches its vCPU, decided per interrupt. */
enum kvl_delivery {
	KVL_DELIV_UNKNOWN,	/* no kvm_apicv_accept_irq (yet): injected */
	KVL_DELIV_POSTED,	/* APICv/AVIC: no kvm_inj_virq will come */
};

/*
 * aio=native: its completion is looked for in the AIO ring; io_uring: its
 * completion is traced (kvl_ev_uring_complete())
 */
#define KVL_REQ_RING		0x1
/* ... and was seen there (at t[KVL_AT_REAP], its reap) */
#define KVL_REQ_REAPED		0x2
/* io_uring: its thread returned from a wait or io_uring_enter since */
#define KVL_REQ_URING_SEEN	0x4

struct kvl_req {
	u16 next;
	u8 path;
	u8 state;
	s16 vcpu;		/* doorbell vCPU: whose histograms */
	s16 target;		/* vCPU index the interrupt went to, -1 = any */
	s32 vector;		/* -1 = unknown */
	u32 delivery;		/* enum kvl_delivery */
	u16 pio;		/* the doorbell was a port write */
	u16 line;		/* its interrupt was a line (kvm_set_irq), not MSI */
	u16 vq;			/* its virtqueue in kvl_vm.vqs, KVL_NO_VQ if none */
	u16 ring_seq;		/* native: its place in the AIO ring's order */
	u32 flags;		/* KVL_REQ_* */
	u64 addr;		/* the doorbell's address: its device and queue */
	s32 fd;			/* its disk, KVL_FD_UNKNOWN if not known */
	s64 off;		/* its file offset, KVL_OFF_UNKNOWN if none */
	u64 iocb;		/* native: its iocb's address, 0 if not known */
	u16 owner;		/* io_uring: its submitting thread's slot */
	u64 t[KVL_NR_STAMPS];	/* enum kvl_stamp */
};

/*
 * The text of one request: the module's kvmio_lat_request trace event
 * prints it, and so does the reader's replay --requests, with these
 * arguments in this order: tgid, vcpu, path name, "port" or "mmio",
 * address, disk fd (-1 unknown), file offset (-1 unknown), irq vcpu,
 * vector, "line" or "msi",
 * "posted" or "injected", total, then the eight stamps (complete equals
 * reap on the native and threads paths).
 */
#define KVL_REQUEST_FMT \
	"tgid=%d vcpu=%u path=%s %s=0x%llx fd=%d off=%lld irq_vcpu=%d vector=%d %s %s total=%llu doorbell=%llu wake=%llu submit=%llu submit_end=%llu complete=%llu reap=%llu irq=%llu entry=%llu"

/*
 * One finished request, as kvl_engine.on_request sees it: the module's
 * kvmio_lat_request trace event, the reader's replay --requests.
 */
struct kvl_request_record {
	s32 tgid;
	u32 vcpu_id;		/* rang the doorbell */
	s32 irq_vcpu_id;	/* the interrupt's target, -1 unknown */
	s32 vector;		/* the interrupt's vector, -1 unknown */
	u32 path;		/* enum kvl_path */
	u32 posted;		/* the interrupt came posted (APICv/AVIC) */
	u32 pio;
	u32 line;		/* the interrupt was a line (INTx), not an MSI */
	u64 addr;		/* doorbell: MMIO address or port */
	s32 fd;			/* disk: QEMU's file descriptor, -1 unknown */
	s64 off;		/* the I/O's offset in that file, -1 unknown */
	u64 t[KVL_NR_STAMPS];	/* enum kvl_stamp */
};

struct kvl_queue {
	u16 head;
	u16 tail;
};

/*
 * A virtio-pci (1.x) virtqueue as the guest's driver set it up through the
 * device's common configuration (engine/virtqueue.c): its notify address
 * is the doorbell of its requests, and its used ring's index counts what
 * QEMU completed, which the module reads when QEMU raises an interrupt.
 */
enum kvl_vq_state {
	KVL_VQ_FREE,
	KVL_VQ_SETUP,		/* its address is being written */
	KVL_VQ_ENABLED,		/* queue_enable written: the driver runs it */
	KVL_VQ_WATCHED,		/* its used index was read: completions count */
};

struct kvl_vq {
	u64 cfg;		/* the common configuration's page */
	u64 notify;		/* its notify address: its requests' doorbell */
	u64 used_gpa;		/* the used ring, guest-physical */
	u64 used_hva;		/* the same in QEMU's memory, 0 until known */
	u64 desc_gpa;		/* the descriptor table, guest-physical */
	u64 avail_gpa;		/* the available ring, guest-physical */
	u16 size;		/* its entries (queue_size), 0 unknown */
	u16 avail_seen;		/* available entries read up to (avail_ok) */
	u16 avail_ok;
	u16 ann_next;		/* where the next announcement goes */
	u16 sel;		/* its queue index */
	u16 used_idx;		/* the used index last read */
	u16 state;		/* enum kvl_vq_state */
	u8 io;			/* a request rang its doorbell: a disk's */
	u8 native;		/* its disk voted by io_submit: exactly */
	u32 pending;		/* completions read, not given to requests yet */
	s32 fd;			/* its disk, by the majority of its requests */
	u32 fd_votes;
	u32 reads;		/* event-loop reads of its device's ioeventfds */
	u32 pool_votes;		/* pool calls right after one (kvl_vq_disk()) */
	/*
	 * Where its sector 0 is in its disk's file (QEMU's raw offset=
	 * option; 0 most often), learnt by votes of the reads that leave no
	 * doubt: one block named, one finished request.
	 */
	s64 base;
	u32 base_votes;
	/*
	 * Pool queues: the requests QEMU took from its available ring, by
	 * head and block, and the ioeventfd read (wake) of the loop that
	 * took each (0 once a pool call had it); the last such read.  A pool
	 * call of that block finds its wake here (kvl_vq_wake_of()), its
	 * used element its block (KVL_NO_HEAD once used).
	 */
	u64 last_read_ts;
	s64 ann_block[KVL_ANNOUNCED];
	u64 ann_wake[KVL_ANNOUNCED];
	u16 ann_head[KVL_ANNOUNCED];
	u16 ann_stamp[KVL_ANNOUNCED];	/* its order: newer ones are larger */
	u16 ann_seq;
};

#define KVL_NO_HEAD		0xffff
/* A used element's request without a block of its own */
#define KVL_BLOCK_UNREAD	(-1LL)	/* its descriptors were not readable */
#define KVL_BLOCK_FLUSH		(-2LL)	/* a flush: an fdatasync */
#define KVL_BLOCK_NO_IO		(-3LL)	/* no host I/O the module sees (GET_ID) */

/* Guest memory: @size bytes at guest-physical @gpa are at @hva in QEMU. */
struct kvl_mem_slot {
	u64 gpa;
	u64 size;		/* 0: free */
	u64 hva;
};

/*
 * The disk of queue @q is known: voted by io_submit, or by pool calls
 * after at least half of its ioeventfd's reads - not one after another
 * device's notify by chance (virtio-net without vhost: its reads are
 * followed by a pool call only when one happens to be due).
 */
static inline bool kvl_vq_disk(const struct kvl_vq *q)
{
	return q->fd_votes >= KVL_DISK_VOTES &&
	       (q->native || 2 * q->pool_votes >= q->reads);
}

/* A doorbell a request took: whose, where, when, its first wake after. */
struct kvl_taken_doorbell {
	s16 vcpu;
	u32 pio;
	u64 addr;
	u64 ts;
	u64 wake;
};

/*
 * One queue's batch of submissions (one io_submit, one io_uring_enter):
 * the doorbell its first request took, which the others may share, the
 * queue its thread read before it and the wake it began with.
 */
struct kvl_batch {
	struct kvl_taken_doorbell first;
	u64 prefer;
	u64 own_wake;
	bool have_first;
};

/* An MSI's disk, learnt by votes (irq.c) */
struct kvl_irq_bind {
	s32 target;		/* vCPU index, -1: any */
	s32 vector;
	s32 fd;			/* its disk; KVL_FD_UNKNOWN until bound */
	u32 total;		/* votes cast */
	s32 vote_fd[KVL_BIND_FDS];
	u32 votes[KVL_BIND_FDS];
};

struct kvl_vm {
	/* read by every event of every thread, written rarely */
	s32 tgid;
	char comm[KVL_COMM_LEN];
	u32 nr_vcpus;
	/*
	 * Its process exited: kept, readable, until reset or until its slot
	 * is wanted (oldest first).  Probes no longer find it.
	 */
	u32 exited;
	u64 exited_ts;
	const struct kvl_config *cfg;
	void *owner;		/* for the allocator */
	struct kvl_vcpu **vcpus;	/* [max_vcpus] */
	struct kvl_thread *threads;	/* [max_threads] */
	struct kvl_req *reqs;		/* [max_inflight] */
	/*
	 * Vectors KVM has injected (kvm_inj_virq) into this VM: where the
	 * kernel has no kvm_apicv_accept_irq (before 5.17), an interrupt on
	 * a vector never injected is taken as posted.
	 */
	u32 inj_vectors[256 / 32];
	/* virtqueues enabled whose used ring is not located yet */
	u32 vq_unlocated;
	/* doorbell addresses that led to I/O: MMIO pages and ports */
	u64 known_addr[KVL_KNOWN_DOORBELLS];
	u32 nr_known;

	/* bumped lock-free by each doorbell, from the vCPU threads */
	u32 doorbell_seq ____cacheline_aligned_in_smp;
	/* doorbell_seq when a wake last stamped doorbells: the event loops' */
	u32 doorbell_seq_woken ____cacheline_aligned_in_smp;

	/* from here on written under the lock */
	kvl_lock_t lock ____cacheline_aligned_in_smp;
	u32 inflight;

	u64 counters[KVL_NR_COUNTERS];

	/* the doorbell last taken: requests queued behind it share it */
	s16 last_doorbell_vcpu;	/* -1: none yet */
	u64 last_doorbell_ts;
	u64 last_doorbell_wake;
	u64 last_doorbell_addr;
	/* the last doorbell rung while the system calls were unwatched */
	u64 unwatched_doorbell_ts;
	u32 last_doorbell_pio;

	/* per disk, written under the lock, in the order first seen */
	struct kvl_disk disks[KVL_DISKS];
	u32 nr_disks;

	/* which disk each MSI completes, under the lock */
	struct kvl_irq_bind binds[KVL_IRQ_BINDS];
	u32 nr_binds;

	/*
	 * virtqueues, under the lock; lock-free readers see a slot's fields
	 * before its state (kvl_publish).  vq_cfg/vq_sel: the common
	 * configuration page and queue the guest last selected.
	 */
	struct kvl_vq vqs[KVL_VQS];
	u32 nr_vqs;
	u16 ring_seq;		/* completions seen in AIO rings, wrapping */
	/* QEMU's ioeventfds (KVM_IOEVENTFD): file descriptor, notify address */
	s32 efd[KVL_VQS];
	u64 efd_addr[KVL_VQS];
	u32 nr_efds;
	/* the device an event loop last read an ioeventfd of: a pool vote */
	u64 pool_vote_cfg;
	u64 pool_addr;		/* ... and that queue's notify address */
	u64 pool_read_ts;	/* ... and when */
	/* queues whose used index the last read found advanced, if valid */
	u32 used_advanced;
	u32 used_read;
	u32 vq_sel;
	u64 vq_cfg;
	/* KVM's memory slots met so far (kvl_ev_mem_slot()), and which next */
	struct kvl_mem_slot slots[KVL_MEM_SLOTS];
	u32 slot_next;
	/* a guest page no slot covers: wanted at the next doorbell, | 1 */
	u64 slot_wanted;

	/*
	 * io_uring: the rings its requests went to (kvl_ev_uring_complete()
	 * finds the VM by them where the completing context is not QEMU's),
	 * the batch being submitted (one io_uring_enter of one thread: its
	 * first request's doorbell, which the others of the same queue
	 * share), and requests completed whose thread has not returned to
	 * userspace since (their reap is still to come).
	 */
	u64 uring_ctx[KVL_URINGS];
	u32 nr_urings;
	u32 uring_unseen;
	s32 uring_batch_tid;
	u64 uring_batch_enter;	/* its io_uring_enter */
	struct kvl_batch uring_batch;

	struct kvl_queue native_q;	/* submitted, not reaped; and io_uring */
	struct kvl_queue done_q;	/* threads: pool syscall returned */
	struct kvl_queue any_q;		/* irq raised, target unknown */
	struct kvl_queue used_q;	/* named by a used ring, irq to come */
	u16 free_req;
};

struct kvl_engine;

/*
 * How the engine gets memory: the module uses pools, userspace calloc.
 * alloc_vm returns a VM kvl_vm_init() laid out, alloc_vcpu a vCPU
 * kvl_vcpu_prepare() prepared: the module's pools do both in their refill
 * worker, so a probe that meets a new VM or vCPU only takes one.
 */
struct kvl_alloc_ops {
	struct kvl_vm *(*alloc_vm)(struct kvl_engine *eng);
	void (*free_vm)(struct kvl_engine *eng, struct kvl_vm *vm);
	struct kvl_vcpu *(*alloc_vcpu)(struct kvl_engine *eng, struct kvl_vm *vm);
	/* Optional: a VM joined the table (nr_vms grew), the lock dropped. */
	void (*vm_added)(struct kvl_engine *eng);
};

#define KVL_FILTER_BITS	1024
#define KVL_MAX_PIDS	32

/*
 * Reads @len bytes of the VM process's memory at @hva into @buf: 0, or
 * nonzero if it cannot (the module: copy_from_user_nofault(); every
 * kvl_ev_*() call runs in a thread of the VM's process).
 */
typedef int (*kvl_read_fn)(u64 hva, void *buf, u32 len);

typedef void (*kvl_request_hook)(void *ctx,
				 const struct kvl_request_record *rec);

struct kvl_engine {
	struct kvl_config cfg;
	const struct kvl_alloc_ops *ops;
	/*
	 * Moves on (under lock) before a VM leaves the table or is marked
	 * exited: every CPU's memo of the vCPU it last found (kvl_vcpu_find())
	 * is stale from then on.
	 */
	u32 memo_gen;
	kvl_lock_t lock;		/* VM table changes */
	struct kvl_vm **vms;		/* [max_vms]; RCU in the kernel */
	u32 nr_vms;			/* running VMs */
	u32 nr_exited;			/* exited VMs kept */
	u64 print_now;			/* the clock when printing: for ages */
	u32 nr_pids;			/* 0: every VM process */
	s32 pids[KVL_MAX_PIDS];
	u64 dropped_vms;
	/*
	 * kvm_apicv_accept_irq is seen (5.17+ kernels, recordings with it):
	 * each interrupt says itself whether it was posted.  Else the VM's
	 * injected vectors decide (kvl_vm.inj_vectors).
	 */
	u32 apicv_traced;
	/*
	 * io_uring's completions are traced (kvl_ev_uring_complete()): its
	 * requests end at theirs.  Else they are guessed like a native
	 * request whose AIO ring is not read.
	 */
	u32 uring_traced;
	/*
	 * The system calls are not seen (the module attaches their probes
	 * only while a VM runs, from a work item): doorbells are not queued,
	 * since the I/O that follows them would be missed and a later
	 * submission would take them (kvl_engine_set_syscalls_watched()).
	 */
	u32 syscalls_unwatched;
	/* events before this time are from before enable went back to 1 */
	u64 resume_ts;
	/*
	 * Each recorded request, under its VM's lock: must not sleep.  May
	 * be set and cleared while the engine runs (the module does so as
	 * its trace event is enabled and disabled).
	 */
	kvl_request_hook on_request;
	void *on_request_ctx;
	/*
	 * QEMU's memory, where the engine reads virtqueues (virtqueue.c);
	 * NULL where there is none to read (a recording).
	 */
	kvl_read_fn read_qemu;
	unsigned long filter[KVL_FILTER_BITS / (8 * sizeof(unsigned long))];
	/*
	 * By the same hash of the tgid: 1 + the slot in vms[] of the running
	 * VM last put there, 0 for none.  kvl_engine_find_vm() looks there
	 * first and scans vms[] only if two VMs share the bucket.
	 */
	u16 vm_hint[KVL_FILTER_BITS];
};

/* Bytes a VM needs for @cfg, laid out by kvl_vm_init(). */
size_t kvl_vm_size(const struct kvl_config *cfg);
void kvl_vm_init(struct kvl_vm *vm, const struct kvl_config *cfg);
/* Process context: a vCPU's state before its first exit (176 KB of histograms). */
void kvl_vcpu_prepare(struct kvl_vcpu *v);
/* On a prepared vCPU, in probe context: whose it is (a few stores). */
void kvl_vcpu_setup(struct kvl_vcpu *v, u32 vcpu_id, u32 isa);

void kvl_config_defaults(struct kvl_config *cfg);
int kvl_config_check(struct kvl_config *cfg);
void kvl_engine_init(struct kvl_engine *eng, const struct kvl_config *cfg,
		     const struct kvl_alloc_ops *ops, struct kvl_vm **vms);

/* Cheap early filter for probes: may this process be a tracked VM? */
static inline bool kvl_engine_maybe_vm(const struct kvl_engine *eng, s32 tgid)
{
	unsigned int bit = ((u32)tgid * 2654435761u) % KVL_FILTER_BITS;
	unsigned long w = READ_ONCE(eng->filter[bit / (8 * sizeof(unsigned long))]);

	return w & (1UL << (bit % (8 * sizeof(unsigned long))));
}

struct kvl_vm *kvl_engine_find_vm(struct kvl_engine *eng, s32 tgid);

/* Replace the pid filter (n == 0: all); VMs outside it are dropped. */
int kvl_engine_set_pids(struct kvl_engine *eng, const s32 *pids, u32 n);
/*
 * A VM's process exited at @now: keep its histograms, marked exited, its
 * requests still in flight counted as expired.  True if one was running.
 */
bool kvl_engine_vm_exited(struct kvl_engine *eng, s32 tgid, u64 now);
/* A thread exits; @group_dead: it was the last one of its process. */
void kvl_ev_task_exit(struct kvl_engine *eng, s32 tgid, s32 tid,
		      bool group_dead, u64 now);
/* Forget every VM. */
void kvl_engine_drop_all(struct kvl_engine *eng);
/*
 * Zero every histogram and counter, and forget exited VMs.  Stage
 * histograms are zeroed together
 * with the requests waiting in mailboxes; exit histograms race with their
 * vCPU (Documentation/output.rst says what a reader may see).
 */
void kvl_engine_reset(struct kvl_engine *eng);
/* Move every finished request into its histograms (before reading them). */
void kvl_engine_flush(struct kvl_engine *eng);

/* Events. */
void kvl_ev_exit(struct kvl_engine *eng, s32 tgid, s32 tid, const char *comm,
		 u32 vcpu_id, u32 isa, u32 reason, u64 now);
void kvl_ev_entry(struct kvl_engine *eng, s32 tgid, s32 tid, u64 now);
/* A guest MMIO write (@pio false) or port write seen while handling an exit. */
void kvl_ev_doorbell(struct kvl_engine *eng, s32 tgid, s32 tid, bool pio,
		     u64 addr, u64 now);
/*
 * kvm_set_irq on @gsi: a legacy ISA line of the PC (timer, keyboard,
 * cascade, serial, RTC, mouse, FPU), never a block device's completion.
 */
static inline bool kvl_gsi_not_io(u32 gsi)
{
	return gsi < 16 && ((1u << gsi) & ((1u << 0) | (1u << 1) | (1u << 2) |
					   (1u << 3) | (1u << 4) | (1u << 8) |
					   (1u << 12) | (1u << 13)));
}

/* kvm_msi_set_irq (target/vector from the MSI) or kvm_set_irq (-1, -1). */
void kvl_ev_irq(struct kvl_engine *eng, s32 tgid, s32 tid, s32 dest,
		s32 vector, u64 now);
/* kvm_apic_accept_irq: fills in the target of a preceding kvm_set_irq. */
void kvl_ev_apic_accept(struct kvl_engine *eng, s32 tgid, s32 tid,
			u32 apicid, u32 vector, u64 now);
/*
 * kvm_apicv_accept_irq: the interrupt just accepted is posted (APICv,
 * AVIC): it reaches the guest without kvm_inj_virq, at once if the vCPU
 * is in guest mode, else at its next entry.
 */
void kvl_ev_apicv_accept(struct kvl_engine *eng, s32 tgid, s32 tid,
			 u32 apicid, u32 vector, u64 now);
/* Whether kvm_apicv_accept_irq events come (kvl_engine.apicv_traced). */
void kvl_engine_set_apicv_traced(struct kvl_engine *eng, bool traced);

/*
 * io_uring (aio=io_uring).  The opcodes a block request is submitted
 * with (uapi/linux/io_uring.h): the others (QEMU's fdmon-io_uring polls
 * file descriptors with POLL_ADD) are no request of a disk's.
 */
#define KVL_IORING_OP_READV		1
#define KVL_IORING_OP_WRITEV		2
#define KVL_IORING_OP_FSYNC		3
#define KVL_IORING_OP_READ_FIXED	4
#define KVL_IORING_OP_WRITE_FIXED	5
#define KVL_IORING_OP_READ		22
#define KVL_IORING_OP_WRITE		23

static inline bool kvl_uring_op_is_io(u32 op)
{
	return (op >= KVL_IORING_OP_READV && op <= KVL_IORING_OP_WRITE_FIXED) ||
	       op == KVL_IORING_OP_READ || op == KVL_IORING_OP_WRITE;
}

/* Whether io_uring's completions are traced (kvl_engine.uring_traced). */
void kvl_engine_set_uring_traced(struct kvl_engine *eng, bool traced);
/*
 * io_uring_submit_sqe/io_uring_submit_req: thread @tid of @tgid handed
 * the kernel request @user_data on ring @ctx, opcode @op (only block
 * I/O opcodes are followed: kvl_uring_op_is_io()), of file descriptor
 * @fd at file offset @off (KVL_FD_UNKNOWN, KVL_OFF_UNKNOWN where the
 * kernel's tracepoint does not tell).
 */
void kvl_ev_uring_submit(struct kvl_engine *eng, s32 tgid, s32 tid, u64 ctx,
			 u64 user_data, u32 op, s32 fd, s64 off, u64 now);
/*
 * io_uring_complete: the kernel posted the completion of @user_data on
 * ring @ctx, in task @tid of process @tgid, or outside any task (@tgid
 * 0: an interrupt completing it, on older kernels; the ring then says
 * whose).  Posted by the submitting thread itself outside a system call
 * (its task_work, run on its way back to userspace), QEMU sees it as it
 * returns: reaped then; otherwise at the thread's next return from a
 * wait or io_uring_enter.
 */
void kvl_ev_uring_complete(struct kvl_engine *eng, s32 tgid, s32 tid,
			   u64 ctx, u64 user_data, u64 now);
/*
 * Whether the system calls are seen (the default).  While they are not, a
 * doorbell is counted (doorbells_unwatched) and not queued: its I/O would
 * go unseen, and a later submission would take it for its own and shift
 * every request after it by one doorbell.
 */
void kvl_engine_set_syscalls_watched(struct kvl_engine *eng, bool watched);
/*
 * Measuring starts again at @now (a reset, or enable 0 then 1): exits and
 * requests that began before it are not recorded.  They belong to the
 * period before, and after a pause the events that ended them may have
 * been missed.
 */
void kvl_engine_resume(struct kvl_engine *eng, u64 now);
void kvl_ev_inj_virq(struct kvl_engine *eng, s32 tgid, s32 tid, u32 vector,
		     u64 now);
/*
 * arg: io_submit nr, io_uring_enter flags/min_complete packed, the file
 * descriptor of pread64 ... fdatasync (its disk); else 0.  off: the file
 * offset of pread64 ... pwritev2 (kvl_sys_has_offset()), else
 * KVL_OFF_UNKNOWN.
 */
bool kvl_ev_sys_enter(struct kvl_engine *eng, s32 tgid, s32 tid, u32 nr,
		      u32 arg, s64 off, u64 now);
/*
 * kvl_ev_sys_enter() returns false when the call's return cannot matter
 * (a vCPU thread's: the engine looks at its KVM_RUN only), and this, for
 * a read of @fd or a write (@nr) by thread @tid, whether its return can:
 * to flush an interrupt the thread raised that KVM has not accepted (a
 * write's: the irqfd's, so only in a thread that raises interrupts), or,
 * for a thread with an AIO ring, to look at the ring after a read that is
 * not of one of the VM's ioeventfds (QEMU reaps after reading its AIO
 * eventfd).  The module arms a hooked call's return only when it can
 * (syshooks.c).
 */
bool kvl_ev_return_wanted(struct kvl_engine *eng, s32 tgid, s32 tid, u32 nr,
			  s32 fd);

/* One iocb of an io_submit, as the module reads it from QEMU's memory. */
struct kvl_iocb_info {
	u64 iocb;		/* its address: the io_event's obj */
	s64 off;		/* aio_offset */
	s32 fd;			/* aio_fildes: the disk */
};

/*
 * The return of io_submit, with the first @n of the iocbs it took (at most
 * KVL_SUBMIT_FDS; 0 when unread, as in a recording: their disk and block
 * unknown).  @ring: its AIO context, the completion ring's address.
 * kvl_ev_sys_exit() of io_submit is this without iocbs.
 */
void kvl_ev_io_submit_exit(struct kvl_engine *eng, s32 tgid, s32 tid,
			   u64 ring, const struct kvl_iocb_info *io, u32 n,
			   s64 ret, u64 now);
void kvl_ev_sys_exit(struct kvl_engine *eng, s32 tgid, s32 tid, u32 nr,
		     s64 ret, u64 now);
/*
 * Linux AIO completions, from the ring QEMU reaps in userspace (struct
 * aio_ring at the io_submit's context; QEMU 2.9+ reads it without
 * io_getevents).  Thread @tid's ring and the index the engine has read it
 * up to (KVL_RING_UNSEEN: start at its tail); false: no ring to read.
 */
bool kvl_ev_ring_where(struct kvl_engine *eng, s32 tgid, s32 tid, u64 *ring,
		       u32 *seen);
/*
 * What a read of that ring at @now found: up to index @seen, completions
 * of the @n iocbs at @iocb (at most KVL_RING_LOOK).
 */
void kvl_ev_ring_seen(struct kvl_engine *eng, s32 tgid, s32 tid, u32 seen,
		      const u64 *iocb, u32 n, u64 now);
/*
 * virtio-pci virtqueues (engine/virtqueue.c).  A guest MMIO write of
 * @len bytes of @val at @gpa: the device's common configuration is
 * learnt from the writes kvl_vq_cfg_write_maybe() lets through.
 */
static inline bool kvl_vq_cfg_write_maybe(u64 gpa, u32 len)
{
	u32 off = gpa & 0xfff;

	if (len == 2)
		return off == 0x16 || off == 0x18 || off == 0x1c;
	if (len == 4)
		return off >= 0x20 && off <= 0x34 && !(off & 3);
	return off == 0x14 && len == 1;
}

void kvl_ev_mmio_write(struct kvl_engine *eng, s32 tgid, u64 gpa, u32 len,
		       u64 val);
/*
 * A doorbell at MMIO @addr rang a virtqueue whose used ring is not yet
 * located in QEMU's memory: true, its guest-physical address in *@gpa.
 * The module translates it with the ringing vCPU's memory slots, reads
 * the used index there (@used_idx, -1 if it could not), and tells
 * kvl_ev_vq_hva(): completions count from then on, before the request
 * of that doorbell is submitted.
 */
bool kvl_ev_vq_wants_hva(struct kvl_engine *eng, s32 tgid, u64 addr,
			 u64 *gpa);
void kvl_ev_vq_hva(struct kvl_engine *eng, s32 tgid, u64 addr, u64 hva,
		   s32 used_idx);
/*
 * QEMU's KVM_IOEVENTFD: eventfd @fd is signalled by guest writes to MMIO
 * @addr (@assign false: no longer).  A read of @fd by an event loop at
 * @now then says which virtqueue it is about to serve, and when it began
 * to: the wake of the requests it submits (or hands to its pool) next.
 */
void kvl_ev_ioeventfd(struct kvl_engine *eng, s32 tgid, s32 fd, u64 addr,
		      bool assign);
void kvl_ev_fd_read(struct kvl_engine *eng, s32 tgid, s32 tid, s32 fd,
		    u64 now);
/* Lock-free: is @fd one of VM @tgid's ioeventfds (a read worth a clock)? */
bool kvl_ev_fd_known(struct kvl_engine *eng, s32 tgid, s32 fd);
/*
 * Before an interrupt raised by a thread of VM @tgid (@irq), or as its
 * event loop goes back to waiting: the used indexes to read, at @hva[i]
 * (0: none), i < the count returned.  What was read goes to
 * kvl_ev_used_seen(): @idx[i] where bit i of @ok is set.  The engine also
 * reads (kvl_engine.read_qemu), under the VM's lock, the new used elements
 * and their descriptors: which requests (blocks) QEMU completed, reaped at the last
 * wake of thread @tid.  They end at the next interrupt of their disk:
 * this one, if @irq.
 */
u32 kvl_ev_used_where(struct kvl_engine *eng, s32 tgid, u64 *hva);
void kvl_ev_used_seen(struct kvl_engine *eng, s32 tgid, s32 tid,
		      const u16 *idx, u32 ok, u32 n, bool irq);
/*
 * KVM's memory slot of @size bytes at guest-physical @gpa is at @hva in
 * QEMU: the engine reads descriptors through it.  kvl_ev_slot_wanted():
 * a guest address no known slot covers (true, in *@gpa), for the module
 * to look up at a doorbell, where a vCPU and its memory slots are at hand.
 */
void kvl_ev_mem_slot(struct kvl_engine *eng, s32 tgid, u64 gpa, u64 size,
		     u64 hva);
bool kvl_ev_slot_wanted(struct kvl_engine *eng, s32 tgid, u64 *gpa);

/* KVM's exit reasons (uapi/linux/kvm.h) that hand the exit's I/O to QEMU */
#define KVL_KVM_EXIT_IO		2
#define KVL_KVM_EXIT_MMIO	6

/*
 * Does KVM_RUN returning with @reason say the exit's doorbell went to
 * QEMU, not to an ioeventfd?  Only for port I/O and MMIO: a signal
 * (KVM_EXIT_INTR) can end KVM_RUN after an ioeventfd took the doorbell.
 */
static inline bool kvl_userspace_exit_is_io(u32 reason)
{
	return reason == KVL_KVM_EXIT_IO || reason == KVL_KVM_EXIT_MMIO;
}

/*
 * kvm_userspace_exit: a vCPU thread's KVM_RUN returns to userspace with
 * @reason.  The module takes that from KVM's tracepoint; a recording
 * without it gets the same from the sys_exit of ioctl (returning 0).
 */
void kvl_ev_userspace_exit(struct kvl_engine *eng, s32 tgid, s32 tid,
			   u32 reason);

/* x86-64 syscall classes the engine cares about. */
enum kvl_sys_class {
	KVL_SYS_NONE,
	KVL_SYS_WAIT,		/* ppoll, poll, select, pselect6, epoll_*wait* */
	KVL_SYS_URING,		/* io_uring_enter: a wait if it asks to */
	KVL_SYS_SUBMIT,		/* io_submit */
	KVL_SYS_GETEVENTS,	/* io_getevents, io_pgetevents */
	KVL_SYS_POOL_IO,	/* pread64 ... pwritev2, fsync, fdatasync */
	KVL_SYS_IOCTL,		/* KVM_RUN returning (kvl_ev_userspace_exit) */
};

/* x86-64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
#define KVL_NR_read		0
#define KVL_NR_write		1
#define KVL_NR_pread64		17
#define KVL_NR_pwrite64		18
#define KVL_NR_ioctl		16
#define KVL_NR_poll		7
#define KVL_NR_select		23
#define KVL_NR_fsync		74
#define KVL_NR_fdatasync	75
#define KVL_NR_io_getevents	208
#define KVL_NR_io_submit	209
#define KVL_NR_epoll_wait	232
#define KVL_NR_pselect6		270
#define KVL_NR_ppoll		271
#define KVL_NR_epoll_pwait	281
#define KVL_NR_preadv		295
#define KVL_NR_pwritev		296
#define KVL_NR_preadv2		327
#define KVL_NR_pwritev2		328
#define KVL_NR_io_pgetevents	333
#define KVL_NR_io_uring_enter	426
#define KVL_NR_epoll_pwait2	441

/*
 * Inline: the system-call probes classify before any lookup, and return
 * at once for the calls the engine ignores (ioctl among them: a vCPU
 * thread makes one per exit to userspace).
 */
static inline enum kvl_sys_class kvl_sys_class(u32 nr)
{
	switch (nr) {
	case KVL_NR_poll:
	case KVL_NR_select:
	case KVL_NR_pselect6:
	case KVL_NR_ppoll:
	case KVL_NR_epoll_wait:
	case KVL_NR_epoll_pwait:
	case KVL_NR_epoll_pwait2:
		return KVL_SYS_WAIT;
	case KVL_NR_io_uring_enter:
		return KVL_SYS_URING;
	case KVL_NR_io_submit:
		return KVL_SYS_SUBMIT;
	case KVL_NR_io_getevents:
	case KVL_NR_io_pgetevents:
		return KVL_SYS_GETEVENTS;
	case KVL_NR_pread64:
	case KVL_NR_pwrite64:
	case KVL_NR_preadv:
	case KVL_NR_pwritev:
	case KVL_NR_preadv2:
	case KVL_NR_pwritev2:
	case KVL_NR_fsync:
	case KVL_NR_fdatasync:
		return KVL_SYS_POOL_IO;
	case KVL_NR_ioctl:
		return KVL_SYS_IOCTL;
	default:
		return KVL_SYS_NONE;
	}
}

/*
 * Does pool system call @nr carry a file offset, in its fourth argument
 * (pread64, pwrite64 and the p*v* calls, whose pos_l holds all of it on
 * x86-64)?  fsync and fdatasync do not.
 */
static inline bool kvl_sys_has_offset(u32 nr)
{
	return kvl_sys_class(nr) == KVL_SYS_POOL_IO && nr != KVL_NR_fsync &&
	       nr != KVL_NR_fdatasync;
}

/* Names.  A stage @path does not have is NULL (KVL_ST_COMPLETE_TO_REAP). */
const char *kvl_path_name(unsigned int path);
const char *kvl_stage_name(unsigned int path, unsigned int stage);
/* The name of a disk's KVL_DS_* histogram: "io", "submit_to_irq", "total". */
const char *kvl_disk_stage_name(unsigned int ds);
/* KVM's trace name of an exit reason, or NULL if unknown. */
const char *kvl_exit_reason_name(u32 isa, u32 reason);
/* The exit reasons that always get a slot of their own, for @isa. */
const u32 *kvl_exit_reserved(u32 isa, unsigned int *n);

/* Reading out: stats and the "hist" text format (Documentation/output.rst). */
#define KVL_HIST_FORMAT_VERSION	5

u64 kvl_engine_counter(struct kvl_engine *eng, enum kvl_counter c);
const char *kvl_counter_name(enum kvl_counter c);
void kvl_engine_print_hist(struct kvl_engine *eng, const struct kvl_sink *out);
/*
 * The same, each histogram printed from a copy in @scratch whose count is
 * its bucket total: for histograms that writers update while printing.
 */
void kvl_engine_print_hist_copy(struct kvl_engine *eng,
				const struct kvl_sink *out,
				struct kvl_hist *scratch);
/*
 * The same in pieces, for a seq_file: each position prints one piece (the
 * header, a VM's line, one of its vCPUs, its disks, "end");
 * kvl_engine_hist_seek() moves *@pos to the first position at or after it
 * that prints something: false if there is none.  The caller flushes the
 * mailboxes (kvl_engine_flush()) before the first.
 */
bool kvl_engine_hist_seek(struct kvl_engine *eng, u64 *pos);
void kvl_engine_print_hist_at(struct kvl_engine *eng,
			      const struct kvl_sink *out, u64 pos,
			      struct kvl_hist *scratch);
void kvl_engine_print_stats(struct kvl_engine *eng, const struct kvl_sink *out,
			    u64 memory_bytes);

#endif /* KVMIO_LAT_ENGINE_H */
