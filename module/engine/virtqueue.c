// SPDX-License-Identifier: GPL-2.0
/*
 * virtqueue.c - virtio-pci virtqueues: how many of a queue's requests
 * QEMU has completed.
 *
 * The kernel sees no virtqueue descriptors, but the guest's driver sets
 * each queue up through its device's common configuration (virtio 1.x,
 * 4.1.4.3), whose MMIO writes QEMU handles in userspace and kvm_mmio shows
 * with their values: queue_select (0x16), the used ring's address
 * (queue_device, 0x30 and 0x34), queue_enable (0x1c), and device_status
 * (0x14), whose 0 resets the device.  QEMU's virtio-pci puts the common
 * configuration at the start of a BAR and the notify area 0x3000 after
 * it, with a notify_off_multiplier of 4 (hw/virtio/virtio-pci.c,
 * virtio_pci_realize()), so queue q rings at cfg + 0x3000 + 4 * q;
 * page-per-vq=on (a multiplier of 4096) is not followed.
 *
 * The used ring's index (struct vring_used: flags, then idx) counts the
 * requests QEMU has completed: virtqueue_flush() stores it before
 * virtio_notify() raises the interrupt.  The module reads it, in QEMU's
 * memory, before each interrupt a VM thread raises; what it advanced by
 * since the last read is how many of that queue's finished requests the
 * interrupt completes, among the finished requests of its disk (irq.c).
 * A queue is followed so only from the first read on, and only if the
 * module saw its setup: a VM started before the module keeps the guesses
 * of design.rst's rule 6.
 */
#include "internal.h"

#define KVL_CFG_STATUS		0x14	/* u8: 0 resets the device */
#define KVL_CFG_QUEUE_SELECT	0x16	/* u16 */
#define KVL_CFG_QUEUE_ENABLE	0x1c	/* u16 */
#define KVL_CFG_QUEUE_USED_LO	0x30	/* u32 */
#define KVL_CFG_QUEUE_USED_HI	0x34	/* u32 */
#define KVL_NOTIFY_AREA		0x3000	/* QEMU's layout: notify after cfg */
#define KVL_NOTIFY_MULT		4

/* Under vm->lock: queue @sel of the device at @cfg, added if @add. */
static struct kvl_vq *kvl_vq_get(struct kvl_vm *vm, u64 cfg, u16 sel,
				 bool add)
{
	struct kvl_vq *free = NULL;
	u32 i;

	for (i = 0; i < vm->nr_vqs; i++) {
		struct kvl_vq *q = &vm->vqs[i];

		if (q->state == KVL_VQ_FREE) {
			if (!free)
				free = q;
		} else if (q->cfg == cfg && q->sel == sel) {
			return q;
		}
	}
	if (!add)
		return NULL;
	if (!free && vm->nr_vqs < KVL_VQS)
		free = &vm->vqs[vm->nr_vqs];
	if (!free)
		return NULL;
	memset(free, 0, sizeof(*free));
	free->cfg = cfg;
	free->sel = sel;
	kvl_publish(&free->state, KVL_VQ_SETUP);
	if (free == &vm->vqs[vm->nr_vqs])
		kvl_publish(&vm->nr_vqs, vm->nr_vqs + 1);
	return free;
}

/* Under vm->lock: queue @q is being set up again, or goes. */
static void kvl_vq_stop(struct kvl_vm *vm, struct kvl_vq *q, u16 state)
{
	if (q->state >= KVL_VQ_ENABLED && !q->used_hva)
		WRITE_ONCE(vm->vq_unlocated, vm->vq_unlocated - 1);
	WRITE_ONCE(q->state, state);
	WRITE_ONCE(q->used_hva, 0);
	q->pending = 0;
}

void kvl_ev_mmio_write(struct kvl_engine *eng, s32 tgid, u64 gpa, u32 len,
		       u64 val)
{
	struct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);
	u64 page = gpa & ~0xfffULL;
	unsigned long flags;
	struct kvl_vq *q;
	u32 i;

	if (!vm || !kvl_vq_cfg_write_maybe(gpa, len))
		return;
	kvl_lock(&vm->lock, flags);
	switch (gpa & 0xfff) {
	case KVL_CFG_QUEUE_SELECT:
		vm->vq_cfg = page;
		vm->vq_sel = (u16)val;
		break;
	case KVL_CFG_STATUS:
		if ((u8)val)
			break;
		for (i = 0; i < vm->nr_vqs; i++)
			if (vm->vqs[i].state != KVL_VQ_FREE &&
			    vm->vqs[i].cfg == page)
				kvl_vq_stop(vm, &vm->vqs[i], KVL_VQ_FREE);
		break;
	case KVL_CFG_QUEUE_USED_LO:
	case KVL_CFG_QUEUE_USED_HI:
		if (vm->vq_cfg != page)
			break;
		q = kvl_vq_get(vm, page, (u16)vm->vq_sel, true);
		if (!q)
			break;
		if (q->state != KVL_VQ_SETUP)
			kvl_vq_stop(vm, q, KVL_VQ_SETUP);
		if ((gpa & 0xfff) == KVL_CFG_QUEUE_USED_LO)
			q->used_gpa = (q->used_gpa & ~0xffffffffULL) | (u32)val;
		else
			q->used_gpa = (q->used_gpa & 0xffffffffULL) |
				      ((u64)(u32)val << 32);
		break;
	case KVL_CFG_QUEUE_ENABLE:
		if (vm->vq_cfg != page)
			break;	/* (a notify write of queue 7 looks the same) */
		q = kvl_vq_get(vm, page, (u16)vm->vq_sel, false);
		if (!q || q->state != KVL_VQ_SETUP || val != 1 || !q->used_gpa)
			break;
		q->notify = page + KVL_NOTIFY_AREA + KVL_NOTIFY_MULT * q->sel;
		WRITE_ONCE(vm->vq_unlocated, vm->vq_unlocated + 1);
		kvl_publish(&q->state, KVL_VQ_ENABLED);
		break;
	}
	kvl_unlock(&vm->lock, flags);
}

/* Lock-free: the enabled queue that rings at @addr, or NULL. */
static struct kvl_vq *kvl_vq_at(struct kvl_vm *vm, u64 addr)
{
	u32 i, n = kvl_acquire(&vm->nr_vqs);

	for (i = 0; i < n; i++) {
		struct kvl_vq *q = &vm->vqs[i];

		if (kvl_acquire(&q->state) >= KVL_VQ_ENABLED &&
		    READ_ONCE(q->notify) == addr)
			return q;
	}
	return NULL;
}

bool kvl_ev_vq_wants_hva(struct kvl_engine *eng, s32 tgid, u64 addr,
			 u64 *gpa)
{
	struct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);
	struct kvl_vq *q;

	if (!vm || !READ_ONCE(vm->vq_unlocated))
		return false;
	q = kvl_vq_at(vm, addr);
	if (!q || READ_ONCE(q->used_hva))
		return false;
	*gpa = READ_ONCE(q->used_gpa);
	return true;
}

void kvl_ev_vq_hva(struct kvl_engine *eng, s32 tgid, u64 addr, u64 hva,
		   s32 used_idx)
{
	struct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);
	unsigned long flags;
	struct kvl_vq *q;

	if (!vm || !hva)
		return;
	kvl_lock(&vm->lock, flags);
	q = kvl_vq_at(vm, addr);
	if (q && !q->used_hva) {
		WRITE_ONCE(q->used_hva, hva);
		WRITE_ONCE(vm->vq_unlocated, vm->vq_unlocated - 1);
		if (used_idx >= 0) {
			q->used_idx = (u16)used_idx;
			q->pending = 0;
			WRITE_ONCE(q->state, KVL_VQ_WATCHED);
		}
	}
	kvl_unlock(&vm->lock, flags);
}

/*
 * Under vm->lock: the requests QEMU served right after reading the
 * ioeventfd of a queue of the device at @cfg were of disk @fd: a vote
 * (Boyer-Moore majority, for all the device's queues).  @exact: an
 * io_submit, which QEMU's virtio_blk_handle_vq() makes right after the
 * read.  Otherwise the first pool system call after it, likely the
 * request that read dispatched, unless the device is an aio=native
 * disk's (a pool worker still busy with another disk's requests; a
 * native disk's flushes go to the pool too): those it leaves alone.
 */
void kvl_vq_vote_disk(struct kvl_vm *vm, u64 cfg, s32 fd, bool exact)
{
	u32 i;

	if (!cfg || fd == KVL_FD_UNKNOWN)
		return;
	for (i = 0; i < vm->nr_vqs; i++) {
		struct kvl_vq *q = &vm->vqs[i];

		if (q->state == KVL_VQ_FREE || q->cfg != cfg ||
		    (!exact && q->native))
			continue;
		if (exact && !q->native) {	/* what pool calls voted goes */
			q->native = 1;
			q->fd_votes = 0;
		}
		if (!q->io)
			WRITE_ONCE(q->io, 1);
		if (!exact && q->pool_votes < q->reads)
			q->pool_votes++;
		if (q->fd_votes && q->fd == fd) {
			q->fd_votes += q->fd_votes < 64;
		} else if (q->fd_votes) {
			q->fd_votes--;
		} else {
			q->fd = fd;
			q->fd_votes = 1;
		}
	}
}

/*
 * Under vm->lock: the followed queue whose used ring counts the
 * completion of a request of disk @fd: one of its device's (the module
 * counts a device's completions, whichever queue), KVL_NO_VQ if none.
 * A request rung at (@pio, @addr) makes that queue a disk's, whose used
 * ring the module then reads.
 */
u16 kvl_vq_of_request(struct kvl_vm *vm, u32 pio, u64 addr, s32 fd)
{
	struct kvl_vq *q;
	u32 i;

	if (pio || !vm->nr_vqs)
		return KVL_NO_VQ;
	q = kvl_vq_at(vm, addr);
	if (q && !q->io)
		WRITE_ONCE(q->io, 1);
	if (fd == KVL_FD_UNKNOWN)
		return KVL_NO_VQ;
	for (i = 0; i < vm->nr_vqs; i++)
		if (vm->vqs[i].state == KVL_VQ_WATCHED &&
		    kvl_vq_disk(&vm->vqs[i]) && vm->vqs[i].fd == fd)
			return (u16)i;
	return KVL_NO_VQ;
}

void kvl_ev_ioeventfd(struct kvl_engine *eng, s32 tgid, s32 fd, u64 addr,
		      bool assign)
{
	struct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);
	unsigned long flags;
	u32 i, free;

	if (!vm)
		return;
	kvl_lock(&vm->lock, flags);
	/* QEMU assigns and deassigns them several times while setting up */
	for (i = 0, free = KVL_VQS; i < vm->nr_efds; i++) {
		if (vm->efd[i] == fd)
			break;
		if (vm->efd[i] < 0 && free == KVL_VQS)
			free = i;
	}
	if (!assign) {
		if (i < vm->nr_efds)
			WRITE_ONCE(vm->efd[i], -1);
		goto out;
	}
	if (i == vm->nr_efds && free < KVL_VQS)
		i = free;
	if (i == KVL_VQS)
		goto out;
	WRITE_ONCE(vm->efd[i], -1);
	WRITE_ONCE(vm->efd_addr[i], addr);
	kvl_publish(&vm->efd[i], fd);
	if (i == vm->nr_efds)
		kvl_publish(&vm->nr_efds, vm->nr_efds + 1);
out:
	kvl_unlock(&vm->lock, flags);
}

void kvl_ev_fd_read(struct kvl_engine *eng, s32 tgid, s32 tid, s32 fd,
		    u64 now)
{
	struct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);
	unsigned long flags;
	struct kvl_thread *t;
	struct kvl_vq *q;
	u32 i, n;

	if (!vm || fd < 0)
		return;
	n = kvl_acquire(&vm->nr_efds);
	for (i = 0; i < n; i++)
		if (kvl_acquire(&vm->efd[i]) == fd)
			break;
	if (i == n)
		return;
	q = kvl_vq_at(vm, READ_ONCE(vm->efd_addr[i]));
	t = kvl_io_thread_find(eng, tgid, tid, &vm);
	if (!q || !t)
		return;
	kvl_lock(&vm->lock, flags);
	/* halved now and then: the ratio of the recent past */
	if (++q->reads > 1024) {
		q->reads /= 2;
		q->pool_votes /= 2;
	}
	t->handling_cfg = q->cfg;
	t->handling_addr = q->notify;
	t->handling_ts = now;
	vm->pool_vote_cfg = q->cfg;
	/*
	 * What the next pool call was dispatched for: not a native disk's
	 * queue (its loop submits itself) nor another device's (one whose
	 * reads are seldom followed by a pool call).
	 */
	if (!q->native && (q->fd_votes < KVL_DISK_VOTES || kvl_vq_disk(q))) {
		vm->pool_addr = q->notify;
		vm->pool_read_ts = now;
	}
	kvl_unlock(&vm->lock, flags);
}

u32 kvl_ev_used_where(struct kvl_engine *eng, s32 tgid, u64 *hva)
{
	struct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);
	u32 i, n, any = 0;

	if (!vm)
		return 0;
	n = kvl_acquire(&vm->nr_vqs);
	for (i = 0; i < n; i++) {
		struct kvl_vq *q = &vm->vqs[i];
		u64 used = READ_ONCE(q->used_hva);

		/* flags, then the index: struct vring_used */
		hva[i] = kvl_acquire(&q->state) >= KVL_VQ_ENABLED &&
			 READ_ONCE(q->io) && used ? used + 2 : 0;
		any |= !!hva[i];
	}
	return any ? n : 0;
}

void kvl_ev_used_seen(struct kvl_engine *eng, s32 tgid, const u16 *idx,
		      u32 ok, u32 n)
{
	struct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);
	unsigned long flags;
	u32 i;

	if (!vm)
		return;
	kvl_lock(&vm->lock, flags);
	vm->used_advanced = 0;
	vm->used_read = 0;
	for (i = 0; i < n && i < vm->nr_vqs; i++) {
		struct kvl_vq *q = &vm->vqs[i];

		if (q->state < KVL_VQ_ENABLED || !q->used_hva || !q->io)
			continue;
		if (!(ok & (1u << i))) {
			/* unreadable: its requests go back to the guesses */
			if (q->state == KVL_VQ_WATCHED)
				WRITE_ONCE(q->state, KVL_VQ_ENABLED);
			q->pending = 0;
			continue;
		}
		if (q->state == KVL_VQ_WATCHED) {
			q->pending += (u16)(idx[i] - q->used_idx);
			vm->used_read = 1;
			if (idx[i] != q->used_idx)
				vm->used_advanced |= 1u << i;
		} else {
			WRITE_ONCE(q->state, KVL_VQ_WATCHED);
		}
		q->used_idx = idx[i];
	}
	kvl_unlock(&vm->lock, flags);
}
