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

static void kvl_vq_scan(struct kvl_vm *vm, struct kvl_vq *q, kvl_read_fn read,
			u64 now);

#define KVL_CFG_STATUS		0x14	/* u8: 0 resets the device */
#define KVL_CFG_QUEUE_SELECT	0x16	/* u16 */
#define KVL_CFG_QUEUE_SIZE	0x18	/* u16 */
#define KVL_CFG_QUEUE_ENABLE	0x1c	/* u16 */
#define KVL_CFG_QUEUE_DESC_LO	0x20	/* u32 */
#define KVL_CFG_QUEUE_DESC_HI	0x24	/* u32 */
#define KVL_CFG_QUEUE_AVAIL_LO	0x28	/* u32 */
#define KVL_CFG_QUEUE_AVAIL_HI	0x2c	/* u32 */
#define KVL_CFG_QUEUE_USED_LO	0x30	/* u32 */
#define KVL_CFG_QUEUE_USED_HI	0x34	/* u32 */
#define KVL_NOTIFY_AREA		0x3000	/* QEMU's layout: notify after cfg */
#define KVL_NOTIFY_MULT		4

/* Under vm->lock: @q remembers no request taken from its available ring. */
static void kvl_vq_forget_announced(struct kvl_vq *q)
{
	u32 i;

	q->avail_ok = 0;
	for (i = 0; i < KVL_ANNOUNCED; i++)
		q->ann_head[i] = KVL_NO_HEAD;
}

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
	kvl_vq_forget_announced(free);
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
	kvl_vq_forget_announced(q);
}

/* Under vm->lock: the queue the guest selected, (again) being set up. */
static struct kvl_vq *kvl_vq_setup(struct kvl_vm *vm, u64 page)
{
	struct kvl_vq *q;

	if (vm->vq_cfg != page)
		return NULL;
	q = kvl_vq_get(vm, page, (u16)vm->vq_sel, true);
	if (q && q->state != KVL_VQ_SETUP)
		kvl_vq_stop(vm, q, KVL_VQ_SETUP);
	return q;
}

/*
 * The address a common-configuration write at @off (queue_desc,
 * queue_driver, queue_device: 0x20 .. 0x34) sets half of, in @q; the
 * high half at 0x24, 0x2c, 0x34.
 */
static u64 *kvl_vq_ring_gpa(struct kvl_vq *q, u32 off)
{
	u64 *ring[] = { &q->desc_gpa, &q->avail_gpa, &q->used_gpa };

	return ring[(off - KVL_CFG_QUEUE_DESC_LO) / 8];
}

/* The high (@hi) or low 32 bits of *@addr become @val. */
static void kvl_set_half(u64 *addr, bool hi, u64 val)
{
	if (hi)
		*addr = (*addr & 0xffffffffULL) | ((u64)(u32)val << 32);
	else
		*addr = (*addr & ~0xffffffffULL) | (u32)val;
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
	/*
	 * Past queue_select, only the selected device's page: a notify
	 * write of queue 6 or 7 (0x18, 0x1c) takes no lock.
	 */
	if ((gpa & 0xfff) != KVL_CFG_QUEUE_SELECT && (gpa & 0xfff) != KVL_CFG_STATUS &&
	    page != READ_ONCE(vm->vq_cfg))
		return;
	kvl_lock(&vm->lock, flags);
	switch (gpa & 0xfff) {
	case KVL_CFG_QUEUE_SELECT:
		WRITE_ONCE(vm->vq_cfg, page);
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
	case KVL_CFG_QUEUE_SIZE:
		q = kvl_vq_setup(vm, page);
		if (q)	/* a split ring's size is a power of 2 */
			q->size = val && !(val & (val - 1)) ? (u16)val : 0;
		break;
	case KVL_CFG_QUEUE_DESC_LO:
	case KVL_CFG_QUEUE_DESC_HI:
	case KVL_CFG_QUEUE_AVAIL_LO:
	case KVL_CFG_QUEUE_AVAIL_HI:
	case KVL_CFG_QUEUE_USED_LO:
	case KVL_CFG_QUEUE_USED_HI:
		q = kvl_vq_setup(vm, page);
		if (q)
			kvl_set_half(kvl_vq_ring_gpa(q, gpa & 0xfff),
				     gpa & 4, val);
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

/* Lock-free: the index of ioeventfd @fd in @vm's table, KVL_VQS if none. */
static u32 kvl_efd_index(struct kvl_vm *vm, s32 fd)
{
	u32 i, n = kvl_acquire(&vm->nr_efds);

	for (i = 0; fd >= 0 && i < n; i++)
		if (kvl_acquire(&vm->efd[i]) == fd)
			return i;
	return KVL_VQS;
}

bool kvl_ev_fd_known(struct kvl_engine *eng, s32 tgid, s32 fd)
{
	struct kvl_vm *vm = kvl_sys_find_vm(eng, tgid);

	return vm && kvl_efd_index(vm, fd) < KVL_VQS;
}

bool kvl_ev_return_wanted(struct kvl_engine *eng, s32 tgid, s32 tid, u32 nr,
			  s32 fd)
{
	struct kvl_thread *t;
	struct kvl_vm *vm = kvl_sys_find(eng, tgid, tid, &t);

	/*
	 * No thread yet: a read's return adds none; a write may raise the
	 * thread's first interrupt, flushed, if KVM does not accept it, at
	 * its next hooked return instead.
	 */
	if (!vm || !t || READ_ONCE(t->vcpu) >= 0)
		return false;
	if (READ_ONCE(t->irq_pending))
		return true;
	if (nr != KVL_NR_read)
		return READ_ONCE(t->flags) & KVL_T_IRQ;
	return READ_ONCE(t->aio_ring) && kvl_efd_index(vm, fd) == KVL_VQS;
}

void kvl_ev_fd_read(struct kvl_engine *eng, s32 tgid, s32 tid, s32 fd,
		    u64 now)
{
	struct kvl_vm *vm = kvl_sys_find_vm(eng, tgid);
	unsigned long flags;
	struct kvl_thread *t;
	struct kvl_vq *q;
	u32 i;

	if (!vm)
		return;
	i = kvl_efd_index(vm, fd);
	if (i == KVL_VQS)
		return;
	q = kvl_vq_at(vm, READ_ONCE(vm->efd_addr[i]));
	t = kvl_io_thread_find(eng, tgid, tid, &vm);
	if (!q || !t)
		return;
	kvl_lock(&vm->lock, flags);
	/*
	 * Counted for each queue of the device, as pool votes are: its rx
	 * queue, seldom rung, is a network device's all the same.  Halved
	 * now and then: the ratio of the recent past.
	 */
	for (i = 0; i < vm->nr_vqs; i++) {
		struct kvl_vq *o = &vm->vqs[i];

		if (o->state == KVL_VQ_FREE || o->cfg != q->cfg)
			continue;
		if (++o->reads > 1024) {
			o->reads /= 2;
			o->pool_votes /= 2;
		}
	}
	kvl_vq_scan(vm, q, READ_ONCE(eng->read_qemu), now);
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
	struct kvl_vm *vm = kvl_sys_find_vm(eng, tgid);
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

/* Under vm->lock: where @len bytes at guest-physical @gpa are in QEMU, or 0. */
static u64 kvl_gpa_hva(struct kvl_vm *vm, u64 gpa, u32 len)
{
	u32 i;

	for (i = 0; i < KVL_MEM_SLOTS; i++) {
		const struct kvl_mem_slot *m = &vm->slots[i];

		if (gpa >= m->gpa && gpa - m->gpa < m->size &&
		    m->size - (gpa - m->gpa) >= len)
			return m->hva + (gpa - m->gpa);
	}
	WRITE_ONCE(vm->slot_wanted, (gpa & ~0xfffULL) | 1);
	return 0;
}

void kvl_ev_mem_slot(struct kvl_engine *eng, s32 tgid, u64 gpa, u64 size,
		     u64 hva)
{
	struct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);
	struct kvl_mem_slot *m = NULL;
	unsigned long flags;
	u64 want;
	u32 i;

	if (!vm || !size || gpa + size < gpa)
		return;
	kvl_lock(&vm->lock, flags);
	for (i = 0; i < KVL_MEM_SLOTS && !m; i++)
		if (vm->slots[i].size && vm->slots[i].gpa == gpa)
			m = &vm->slots[i];
	if (!m)		/* the oldest gives way */
		m = &vm->slots[vm->slot_next++ % KVL_MEM_SLOTS];
	m->gpa = gpa;
	m->size = size;
	m->hva = hva;
	want = vm->slot_wanted & ~1ULL;
	if (want >= gpa && want - gpa < size)
		WRITE_ONCE(vm->slot_wanted, 0);
	kvl_unlock(&vm->lock, flags);
}

bool kvl_ev_slot_wanted(struct kvl_engine *eng, s32 tgid, u64 *gpa)
{
	struct kvl_vm *vm = kvl_engine_find_vm(eng, tgid);
	u64 want = vm ? READ_ONCE(vm->slot_wanted) : 0;

	*gpa = want & ~1ULL;
	return want;
}

/* The split ring's layout (virtio 1.x, 2.7); x86 is little-endian too. */
struct kvl_vring_desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

#define KVL_VRING_DESC_F_INDIRECT	4

/* The header each virtio-blk request starts with (virtio 1.x, 5.2.6). */
struct kvl_blk_outhdr {
	u32 type;
	u32 ioprio;
	u64 sector;
};

#define KVL_BLK_T_IN		0
#define KVL_BLK_T_OUT		1
#define KVL_BLK_T_FLUSH		4

/* Under vm->lock: @len bytes at guest-physical @gpa read into @buf. */
static bool kvl_guest_read(struct kvl_vm *vm, kvl_read_fn read, u64 gpa,
			   void *buf, u32 len)
{
	u64 hva = kvl_gpa_hva(vm, gpa, len);

	return hva && !read(hva, buf, len);
}

/*
 * Under vm->lock: the block of the request whose descriptor chain starts
 * at @head of queue @q - its header's sector, in bytes, which is QEMU's
 * file offset for a raw image - or a KVL_BLOCK_* value.  The guest's
 * driver puts the header first, directly or in an indirect table; the
 * chain is read the moment QEMU has completed it, before the guest can
 * take it back (it does after the interrupt).
 */
static s64 kvl_vq_block(struct kvl_vm *vm, const struct kvl_vq *q, u32 head,
			kvl_read_fn read)
{
	struct kvl_blk_outhdr hdr;
	struct kvl_vring_desc d;

	if (head >= q->size ||
	    !kvl_guest_read(vm, read, q->desc_gpa + sizeof(d) * head, &d,
			    sizeof(d)))
		return KVL_BLOCK_UNREAD;
	if ((d.flags & KVL_VRING_DESC_F_INDIRECT) &&
	    (d.len < sizeof(d) ||
	     !kvl_guest_read(vm, read, d.addr, &d, sizeof(d))))
		return KVL_BLOCK_UNREAD;
	if (d.len < sizeof(hdr) ||
	    !kvl_guest_read(vm, read, d.addr, &hdr, sizeof(hdr)))
		return KVL_BLOCK_UNREAD;
	switch (hdr.type) {
	case KVL_BLK_T_IN:
	case KVL_BLK_T_OUT:
		return hdr.sector <= (U64_MAX >> 10) ? (s64)(hdr.sector << 9) :
		       KVL_BLOCK_UNREAD;
	case KVL_BLK_T_FLUSH:
		return KVL_BLOCK_FLUSH;
	default:
		return KVL_BLOCK_NO_IO;
	}
}

/*
 * Under vm->lock: the request of disk @fd at block @off (KVL_BLOCK_FLUSH:
 * one without a block) whose I/O the module saw end, the first submitted
 * of them; KVL_NO_REQ if none, else its queue and predecessor.
 */
static u16 kvl_req_at_block(struct kvl_vm *vm, s32 fd, s64 off,
			    struct kvl_queue **qp, u16 *prevp)
{
	struct kvl_queue *queues[2];
	u16 best = KVL_NO_REQ, prev, i;
	int qi;

	if (off == KVL_BLOCK_FLUSH)
		off = KVL_OFF_UNKNOWN;
	kvl_for_each_io_req(vm, queues, qi, prev, i) {
		struct kvl_req *r = kvl_req(vm, i);

		if (r->fd != fd || r->off != off ||
		    (best != KVL_NO_REQ &&
		     kvl_req(vm, best)->t[KVL_AT_SUBMIT] <= r->t[KVL_AT_SUBMIT]) ||
		    !kvl_req_io_ended(r))
			continue;
		best = i;
		*qp = queues[qi];
		*prevp = prev;
	}
	return best;
}

/*
 * Under vm->lock: a vote for @q's base (kvl_vq.base) by a read that named
 * one @block of it while its disk had one finished request: where that
 * block is in the file.  Boyer-Moore: the base most such reads show.
 */
static void kvl_vq_vote_base(struct kvl_vm *vm, struct kvl_vq *q, s64 block)
{
	struct kvl_queue *queues[2];
	u16 prev, i;
	u32 over = 0;
	s64 off = 0;
	int qi;

	kvl_for_each_io_req(vm, queues, qi, prev, i) {
		const struct kvl_req *r = kvl_req(vm, i);

		if (r->fd == q->fd && r->off >= 0 && kvl_req_io_ended(r)) {
			off = r->off;
			over++;
		}
		(void)prev;
	}
	if (over != 1)
		return;
	if (q->base_votes && q->base == off - block) {
		q->base_votes += q->base_votes < 64;
	} else if (q->base_votes) {
		q->base_votes--;
	} else {
		q->base = off - block;
		q->base_votes = 1;
	}
}

/*
 * Under vm->lock: the block pool queue @q announced for @head, the newest
 * announcement, no longer looked for; KVL_BLOCK_UNREAD if none.  Read as
 * QEMU took the request, it holds when the guest has already reused the
 * head of a completed element for a request QEMU has not taken yet.
 */
static s64 kvl_vq_ann_block(struct kvl_vq *q, u32 head)
{
	u32 k, best = KVL_ANNOUNCED;

	for (k = 0; k < KVL_ANNOUNCED; k++)
		if (q->ann_head[k] == head &&
		    (best == KVL_ANNOUNCED ||
		     (s16)(q->ann_stamp[k] - q->ann_stamp[best]) > 0))
			best = k;
	if (best == KVL_ANNOUNCED)
		return KVL_BLOCK_UNREAD;
	q->ann_head[best] = KVL_NO_HEAD;
	return q->ann_block[best];
}

/*
 * Under vm->lock: the used elements @from .. @to of @q QEMU has just
 * written (struct vring_used: flags, idx, then { id, len } each), the
 * first KVL_USED_LOOK of them, named by the blocks of their requests.
 * Each request named, reaped at @wake (the iteration that completed it)
 * if its I/O ended by then, waits in used_q for its disk's next interrupt.
 * What names no request of ours, or one whose end the module has not
 * seen - the guest took the element back already, its handler still
 * polling the ring, and reused its head for a new request, whose header
 * this is - is left to the guesses (irq.c).
 */
static void kvl_vq_take_used(struct kvl_vm *vm, struct kvl_vq *q, u16 from,
			     u16 to, kvl_read_fn read, u64 wake)
{
	s64 block[KVL_USED_LOOK];
	u32 n = 0, blocks = 0, k;
	u16 e;

	if (!q->size || !q->desc_gpa)
		return;
	for (e = from; e != to && n < KVL_USED_LOOK; e++) {
		u32 id;

		block[n] = KVL_BLOCK_UNREAD;
		if (!read(q->used_hva + 4 + 8 * (e & (q->size - 1)), &id,
			  sizeof(id))) {
			if (q->avail_ok)
				block[n] = kvl_vq_ann_block(q, id);
			if (block[n] == KVL_BLOCK_UNREAD)
				block[n] = kvl_vq_block(vm, q, id, read);
		}
		blocks += block[n++] >= 0;
	}
	if (blocks == 1)
		for (k = 0; k < n; k++)
			if (block[k] >= 0)
				kvl_vq_vote_base(vm, q, block[k]);
	for (k = 0; k < n && q->pending; k++) {
		struct kvl_queue *lq = NULL;
		u16 prev = KVL_NO_REQ, i;
		struct kvl_req *r;

		if (block[k] == KVL_BLOCK_NO_IO) {
			q->pending--;
			continue;
		}
		if (block[k] == KVL_BLOCK_UNREAD)
			continue;
		i = kvl_req_at_block(vm, q->fd, block[k] < 0 ? block[k] :
				     block[k] + kvl_vq_base(q), &lq, &prev);
		if (i == KVL_NO_REQ)
			continue;
		/* a base that names a request holds; 0 may, with few votes */
		if (block[k] >= 0 && q->base == kvl_vq_base(q)) {
			q->base_votes += q->base_votes < 64;
		} else if (block[k] >= 0) {
			q->base = 0;
			q->base_votes = 1;
		}
		r = kvl_req(vm, i);
		if (!(r->flags & KVL_REQ_REAPED))	/* (else when seen) */
			r->t[KVL_AT_REAP] = wake >= r->t[KVL_AT_SUBMIT_END] ?
					    wake : r->t[KVL_AT_SUBMIT_END];
		q->pending--;
		kvl_queue_unlink(vm, lq, prev, i);
		kvl_queue_push(vm, &vm->used_q, i);
		vm->counters[KVL_C_REQS_BY_USED_RING]++;
		vm->counters[KVL_C_REQS_BY_BLOCK]++;
	}
}

/*
 * Under vm->lock: the available entries of @q from avail_seen up to @to,
 * taken by the loop that woke at @wake: their blocks announced (as many
 * as the table holds; the rest keep the guesses).
 */
static void kvl_vq_announce(struct kvl_vm *vm, struct kvl_vq *q,
			    kvl_read_fn read, u16 to, u64 wake)
{
	u32 n = 0, slot;
	u16 k;

	for (k = q->avail_seen; k != to && n < KVL_ANNOUNCED; k++, n++) {
		u16 head;
		s64 block;

		if (!kvl_guest_read(vm, read, q->avail_gpa + 4 +
				    2 * (k & (q->size - 1)), &head, sizeof(head)))
			break;
		block = kvl_vq_block(vm, q, head, read);
		if (block == KVL_BLOCK_UNREAD)	/* (a head past the table too) */
			continue;
		/* a completed one's place, else the oldest's */
		for (slot = 0; slot < KVL_ANNOUNCED; slot++)
			if (q->ann_head[(q->ann_next + slot) % KVL_ANNOUNCED] ==
			    KVL_NO_HEAD)
				break;
		slot = (q->ann_next + slot % KVL_ANNOUNCED) % KVL_ANNOUNCED;
		q->ann_block[slot] = block;
		q->ann_wake[slot] = wake;
		q->ann_head[slot] = head;
		q->ann_stamp[slot] = q->ann_seq++;
		q->ann_next = (slot + 1) % KVL_ANNOUNCED;
	}
	q->avail_seen = to;
}

/*
 * Under vm->lock: what pool queue @q's loop took from its available ring
 * (struct vring_avail: flags, idx, then the heads).  QEMU's
 * virtio_blk_handle_vq() takes every entry there, with the guest's
 * notifications off, and turning them on again stores the available
 * index it went up to in avail_event (EVENT_IDX, the used ring's last
 * field): the entries below it were taken by the loop of the last read.
 * At a read of its ioeventfd (@now), those, then the ones there now,
 * which this loop takes; else (a pool call looking for its wake, @now 0)
 * only those.
 */
static void kvl_vq_scan(struct kvl_vm *vm, struct kvl_vq *q, kvl_read_fn read,
			u64 now)
{
	u16 avail, event;

	if (!read || q->native || !q->size || !q->avail_gpa || !q->desc_gpa ||
	    !q->used_hva || !kvl_vq_disk(q) ||
	    !kvl_guest_read(vm, read, q->avail_gpa + 2, &avail, sizeof(avail)))
		return;
	if (!q->avail_ok) {	/* from here on */
		q->avail_seen = avail;
		q->avail_ok = 1;
		q->last_read_ts = now;
		return;
	}
	if (!read(q->used_hva + 4 + 8 * q->size, &event, sizeof(event)) &&
	    (u16)(event - q->avail_seen) <= (u16)(avail - q->avail_seen))
		kvl_vq_announce(vm, q, read, event, q->last_read_ts);
	if (!now)
		return;
	kvl_vq_announce(vm, q, read, avail, now);
	q->last_read_ts = now;
}

bool kvl_vq_wake_of(struct kvl_vm *vm, s32 fd, s64 off, kvl_read_fn read,
		    u64 *wake, u64 *notify)
{
	int pass;
	u32 i, k;

	if (off < 0)
		return false;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < vm->nr_vqs; i++) {
			struct kvl_vq *q = &vm->vqs[i];

			if (q->state < KVL_VQ_ENABLED || q->native ||
			    !kvl_vq_disk(q) || q->fd != fd || !q->avail_ok)
				continue;
			if (pass)
				kvl_vq_scan(vm, q, read, 0);
			for (k = 0; k < KVL_ANNOUNCED; k++) {
				if (q->ann_head[k] == KVL_NO_HEAD ||
				    !q->ann_wake[k] || q->ann_block[k] < 0 ||
				    q->ann_block[k] + kvl_vq_base(q) != off)
					continue;
				*wake = q->ann_wake[k];
				q->ann_wake[k] = 0;
				*notify = q->notify;
				return true;
			}
		}
	}
	return false;
}

void kvl_ev_used_seen(struct kvl_engine *eng, s32 tgid, s32 tid,
		      const u16 *idx, u32 ok, u32 n, bool irq)
{
	kvl_read_fn read = eng->read_qemu;
	struct kvl_vm *vm = kvl_sys_find_vm(eng, tgid);
	u32 i, advanced = 0, seen = 0;
	struct kvl_thread *t;
	unsigned long flags;
	u64 wake;

	if (!vm)
		return;
	/* the iteration that completed what it finds, if it woke */
	t = kvl_thread_find(vm, tid);
	wake = t ? READ_ONCE(t->last_wake) : 0;
	kvl_lock(&vm->lock, flags);
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
		/*
		 * Older than what another thread read and told first (two
		 * threads raise interrupts at once): nothing new.
		 */
		if (q->state == KVL_VQ_WATCHED &&
		    (s16)(idx[i] - q->used_idx) < 0)
			continue;
		if (q->state == KVL_VQ_WATCHED) {
			q->pending += (u16)(idx[i] - q->used_idx);
			seen = 1;
			if (idx[i] != q->used_idx)
				advanced |= 1u << i;
			if (read && kvl_vq_disk(q))
				kvl_vq_take_used(vm, q, q->used_idx, idx[i],
						 read, wake);
		} else {
			WRITE_ONCE(q->state, KVL_VQ_WATCHED);
		}
		q->used_idx = idx[i];
	}
	if (irq) {	/* what the interrupt's vote goes by (irq.c) */
		vm->used_advanced = advanced;
		vm->used_read = seen;
	}
	kvl_unlock(&vm->lock, flags);
}
