// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - kvmio_lat: where a QEMU-KVM guest's block I/O latency goes.
 *
 * Module parameters, the engine instance and the memory it runs on.  Probe
 * context never allocates: VMs and vCPUs come from small pools of
 * preallocated objects that a work item refills in process context.  When a
 * pool is empty the engine drops the VM or vCPU and counts it; it retries on
 * the vCPU's next exit.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <linux/rcupdate.h>

#include "kvmio_lat.h"

static unsigned int max_vms = 16;
module_param(max_vms, uint, 0444);
MODULE_PARM_DESC(max_vms, "VM processes tracked at once (1-1024, default 16)");

static unsigned int max_vcpus = 64;
module_param(max_vcpus, uint, 0444);
MODULE_PARM_DESC(max_vcpus, "vCPUs tracked per VM (1-4096, default 64)");

static unsigned int max_threads = 256;
module_param(max_threads, uint, 0444);
MODULE_PARM_DESC(max_threads, "threads tracked per VM (8-8192, default 256)");

static unsigned int max_inflight = 512;
module_param(max_inflight, uint, 0444);
MODULE_PARM_DESC(max_inflight, "requests in flight per VM (1-65534, default 512)");

static unsigned int doorbell_timeout_ms = 1000;
module_param(doorbell_timeout_ms, uint, 0444);
MODULE_PARM_DESC(doorbell_timeout_ms, "a doorbell not followed by I/O within this is stale (default 1000)");

/*
 * A request whose I/O ended this long before the next interrupt had none
 * of its own (firmware polling the ring): counted, not recorded.  Raise it
 * on hosts whose storage can stall longer: a native request that long on
 * the device is counted in requests_without_irq too.
 */
static unsigned int irq_timeout_ms = 1000;
module_param(irq_timeout_ms, uint, 0444);
MODULE_PARM_DESC(irq_timeout_ms, "I/O that QEMU could reap this long before an interrupt had none of its own: counted, not recorded (default 1000)");

static unsigned int spare_vcpus = 8;
module_param(spare_vcpus, uint, 0444);
MODULE_PARM_DESC(spare_vcpus, "vCPU objects kept preallocated for new vCPUs (1-256, default 8)");

/*
 * By default the system-call probes come with the first VM and go with the
 * last (probes.c).  Attaching them at load instead patches the kernel's
 * text once, there, rather than each time a VM starts on a host that had
 * none, and misses none of the first VM's first system calls.
 */
bool syscall_probes_always;
module_param(syscall_probes_always, bool, 0444);
MODULE_PARM_DESC(syscall_probes_always, "attach the system-call probes at load, not only while a VM is tracked (default N)");

/*
 * Follow virtio-pci virtqueues (engine/virtqueue.c): their used rings say
 * which interrupt ends which request.  Off, the module keeps the guesses
 * a trace-cmd recording gets too, as replay_test.sh compares.
 */
bool virtqueues = true;
module_param(virtqueues, bool, 0444);
MODULE_PARM_DESC(virtqueues, "follow virtio-pci virtqueues' used rings and ioeventfds (default Y)");

struct kvl_engine kvl_engine;
bool kvl_enabled = true;

static struct kvl_vm **kvl_vm_table;
static struct workqueue_struct *kvl_wq;
static atomic64_t kvl_mem_bytes = ATOMIC64_INIT(0);

/*
 * A free object in a pool; the pools hold vzalloc()ed blocks, prepared
 * (kvl_pool.prepare) when made.  The link overlays the object's first
 * word, zeroed again when taken: a vCPU's id and ISA, which the engine
 * sets (kvl_vcpu_setup()), a VM's free_work, set when it is freed.
 */
struct kvl_free {
	struct kvl_free *next;
};

struct kvl_pool {
	raw_spinlock_t lock;
	struct kvl_free *head;
	unsigned int nr_free;
	unsigned int want;	/* keep this many spare */
	size_t size;
	size_t charge;		/* what one object really costs: whole pages */
	void (*prepare)(void *obj);	/* process context, before it is free */
	struct work_struct refill;
};

static struct kvl_pool kvl_vm_pool, kvl_vcpu_pool;

/* The module's view of a VM: the engine's block plus what freeing needs. */
struct kvl_mod_vm {
	struct rcu_work free_work;
	struct kvl_vm vm;	/* engine layout follows: kvl_vm_size() */
};

static void *kvl_pool_get(struct kvl_pool *pool)
{
	struct kvl_free *obj;
	unsigned long flags;
	bool low;

	raw_spin_lock_irqsave(&pool->lock, flags);
	obj = pool->head;
	if (obj) {
		pool->head = obj->next;
		pool->nr_free--;
		obj->next = NULL;
	}
	low = pool->nr_free < pool->want;
	raw_spin_unlock_irqrestore(&pool->lock, flags);
	if (low && kvl_wq)
		queue_work(kvl_wq, &pool->refill);
	return obj;
}

static void kvl_pool_fill(struct kvl_pool *pool)
{
	unsigned long flags;

	for (;;) {
		struct kvl_free *obj;

		raw_spin_lock_irqsave(&pool->lock, flags);
		if (pool->nr_free >= pool->want) {
			raw_spin_unlock_irqrestore(&pool->lock, flags);
			return;
		}
		raw_spin_unlock_irqrestore(&pool->lock, flags);

		obj = vzalloc(pool->size);
		if (!obj)
			return;
		pool->prepare(obj);
		atomic64_add(pool->charge, &kvl_mem_bytes);
		raw_spin_lock_irqsave(&pool->lock, flags);
		obj->next = pool->head;
		pool->head = obj;
		pool->nr_free++;
		raw_spin_unlock_irqrestore(&pool->lock, flags);
	}
}

static void kvl_pool_refill_fn(struct work_struct *work)
{
	kvl_pool_fill(container_of(work, struct kvl_pool, refill));
}

static void kvl_pool_init(struct kvl_pool *pool, size_t size, unsigned int want,
			  void (*prepare)(void *obj))
{
	raw_spin_lock_init(&pool->lock);
	pool->head = NULL;
	pool->nr_free = 0;
	pool->want = want;
	pool->size = size;
	pool->charge = PAGE_ALIGN(size);
	pool->prepare = prepare;
	INIT_WORK(&pool->refill, kvl_pool_refill_fn);
}

static void kvl_pool_destroy(struct kvl_pool *pool)
{
	cancel_work_sync(&pool->refill);
	while (pool->head) {
		struct kvl_free *obj = pool->head;

		pool->head = obj->next;
		vfree(obj);
		atomic64_sub(pool->charge, &kvl_mem_bytes);
	}
	pool->nr_free = 0;
}

/* ---- engine allocation ops ---- */

/* in the refill worker: laid out before a probe takes it */
static void kvl_prepare_vm(void *obj)
{
	struct kvl_mod_vm *m = obj;

	kvl_vm_init(&m->vm, &kvl_engine.cfg);
	m->vm.owner = m;
}

static void kvl_prepare_vcpu(void *obj)
{
	kvl_vcpu_prepare(obj);
}

static struct kvl_vm *kvl_alloc_vm(struct kvl_engine *eng)
{
	struct kvl_mod_vm *m = kvl_pool_get(&kvl_vm_pool);

	return m ? &m->vm : NULL;
}

static struct kvl_vcpu *kvl_alloc_vcpu(struct kvl_engine *eng,
				       struct kvl_vm *vm)
{
	return kvl_pool_get(&kvl_vcpu_pool);
}

static void kvl_free_vm_now(struct kvl_mod_vm *m)
{
	u32 i;

	for (i = 0; i < m->vm.nr_vcpus; i++) {
		vfree(m->vm.vcpus[i]);
		atomic64_sub(kvl_vcpu_pool.charge, &kvl_mem_bytes);
	}
	vfree(m);
	atomic64_sub(kvl_vm_pool.charge, &kvl_mem_bytes);
}

static void kvl_free_vm_work(struct work_struct *work)
{
	kvl_free_vm_now(container_of(to_rcu_work(work), struct kvl_mod_vm,
				     free_work));
}

/* Called under the engine lock, maybe in probe context: defer past RCU. */
static void kvl_free_vm(struct kvl_engine *eng, struct kvl_vm *vm)
{
	struct kvl_mod_vm *m = vm->owner;

	INIT_RCU_WORK(&m->free_work, kvl_free_vm_work);
	queue_rcu_work(kvl_wq, &m->free_work);
}

/* In probe context, after the engine's lock: the system calls' probes */
static void kvl_vm_added(struct kvl_engine *eng)
{
	kvl_sys_check();
}

static const struct kvl_alloc_ops kvl_ops = {
	.alloc_vm = kvl_alloc_vm,
	.free_vm = kvl_free_vm,
	.alloc_vcpu = kvl_alloc_vcpu,
	.vm_added = kvl_vm_added,
};

u64 kvl_memory_bytes(void)
{
	return atomic64_read(&kvl_mem_bytes) +
	       kvl_engine.cfg.max_vms * sizeof(*kvl_vm_table) +
	       sizeof(kvl_engine);
}

static int __init kvl_init(void)
{
	struct kvl_config cfg;
	int ret;

	kvl_config_defaults(&cfg);
	cfg.max_vms = max_vms;
	cfg.max_vcpus = max_vcpus;
	cfg.max_threads = max_threads;
	cfg.max_inflight = max_inflight;
	cfg.doorbell_timeout_ns = (u64)doorbell_timeout_ms * NSEC_PER_MSEC;
	cfg.irq_timeout_ns = (u64)irq_timeout_ms * NSEC_PER_MSEC;
	if (kvl_config_check(&cfg) || spare_vcpus < 1 || spare_vcpus > 256) {
		pr_err("invalid parameters: max_vms=%u (1-1024) max_vcpus=%u (1-4096) max_threads=%u (8-8192) max_inflight=%u (1-65534) doorbell_timeout_ms=%u (>0) irq_timeout_ms=%u (>0) spare_vcpus=%u (1-256)\n",
		       max_vms, max_vcpus, max_threads, max_inflight,
		       doorbell_timeout_ms, irq_timeout_ms, spare_vcpus);
		return -EINVAL;
	}

	kvl_vm_table = kcalloc(cfg.max_vms, sizeof(*kvl_vm_table), GFP_KERNEL);
	if (!kvl_vm_table)
		return -ENOMEM;
	kvl_engine_init(&kvl_engine, &cfg, &kvl_ops, kvl_vm_table);
	kvl_trace_init();

	kvl_wq = alloc_workqueue(KVL_NAME, WQ_UNBOUND, 0);
	if (!kvl_wq) {
		ret = -ENOMEM;
		goto err_table;
	}
	kvl_pool_init(&kvl_vm_pool, sizeof(struct kvl_mod_vm) - sizeof(struct kvl_vm) +
		      kvl_vm_size(&kvl_engine.cfg), 2, kvl_prepare_vm);
	kvl_pool_init(&kvl_vcpu_pool, sizeof(struct kvl_vcpu), spare_vcpus,
		      kvl_prepare_vcpu);
	kvl_pool_fill(&kvl_vm_pool);
	kvl_pool_fill(&kvl_vcpu_pool);
	if (kvl_vm_pool.nr_free < 1 || kvl_vcpu_pool.nr_free < 1) {
		ret = -ENOMEM;
		goto err_pools;
	}

	kvl_debugfs_init();
	ret = kvl_probes_init();
	if (ret)
		goto err_debugfs;
	if (!kvl_kvm_attached())
		pr_info("kvm is not loaded; will attach to its tracepoints when it is\n");
	pr_info("loaded: up to %u VMs x %u vCPUs; %zu bytes per vCPU, %zu per VM\n",
		cfg.max_vms, cfg.max_vcpus, kvl_vcpu_pool.charge,
		kvl_vm_pool.charge);
	return 0;

err_debugfs:
	kvl_debugfs_exit();
err_pools:
	kvl_pool_destroy(&kvl_vcpu_pool);
	kvl_pool_destroy(&kvl_vm_pool);
	destroy_workqueue(kvl_wq);
	kvl_wq = NULL;
err_table:
	kfree(kvl_vm_table);
	return ret;
}

static void __exit kvl_exit(void)
{
	/* no probe runs after this: everything below is ours alone */
	kvl_probes_exit();
	kvl_debugfs_exit();
	kvl_engine_drop_all(&kvl_engine);
	rcu_barrier();		/* the frees queued through call_rcu ... */
	flush_workqueue(kvl_wq);	/* ... and the work they queued */
	kvl_pool_destroy(&kvl_vcpu_pool);
	kvl_pool_destroy(&kvl_vm_pool);
	destroy_workqueue(kvl_wq);
	kfree(kvl_vm_table);
	WARN_ON(atomic64_read(&kvl_mem_bytes));
}

module_init(kvl_init);
module_exit(kvl_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kvmio_lat developers");
MODULE_DESCRIPTION("Per-vCPU, per-stage latency histograms of QEMU-KVM block I/O");
MODULE_VERSION("0.1.0");
