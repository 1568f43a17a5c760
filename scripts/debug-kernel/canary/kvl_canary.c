// SPDX-License-Identifier: GPL-2.0
/*
 * kvl_canary.ko - for the debug kernel's lab only: commit, on purpose, one
 * of the bugs the debug kernel is there to catch, so that
 * scripts/debug-kernel/canary.sh can show each detector reports it and the
 * lab fails the run.  Never load it anywhere else.
 *
 *   insmod kvl_canary.ko bug=kasan     read past the end of a kmalloc() buffer
 *   insmod kvl_canary.ko bug=lockdep   take two mutexes in both orders
 *   insmod kvl_canary.ko bug=sleep     might_sleep() under a spinlock
 *   insmod kvl_canary.ko bug=leak      lose a kmalloc() buffer
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

static char *bug = "";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "kasan, lockdep, sleep or leak");

static DEFINE_MUTEX(kvl_canary_a);
static DEFINE_MUTEX(kvl_canary_b);
static DEFINE_SPINLOCK(kvl_canary_lock);
static void *kvl_canary_ptr;

static int kvl_canary_kasan(void)
{
	char *p = kmalloc(16, GFP_KERNEL);
	size_t i = 16;

	if (!p)
		return -ENOMEM;
	OPTIMIZER_HIDE_VAR(i);
	pr_info("kvl_canary: byte past the end: %d\n", READ_ONCE(p[i]));
	kfree(p);
	return 0;
}

static int kvl_canary_lockdep(void)
{
	mutex_lock(&kvl_canary_a);
	mutex_lock(&kvl_canary_b);
	mutex_unlock(&kvl_canary_b);
	mutex_unlock(&kvl_canary_a);

	mutex_lock(&kvl_canary_b);
	mutex_lock(&kvl_canary_a);
	mutex_unlock(&kvl_canary_a);
	mutex_unlock(&kvl_canary_b);
	return 0;
}

static int kvl_canary_sleep(void)
{
	spin_lock(&kvl_canary_lock);
	might_sleep();
	spin_unlock(&kvl_canary_lock);
	return 0;
}

static int kvl_canary_leak(void)
{
	void *p = kmalloc(128, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	memset(p, 0x5a, 128);
	/* the only reference goes: kmemleak must report the buffer */
	WRITE_ONCE(kvl_canary_ptr, p);
	WRITE_ONCE(kvl_canary_ptr, NULL);
	return 0;
}

static int __init kvl_canary_init(void)
{
	pr_info("kvl_canary: bug=%s on purpose\n", bug);
	if (!strcmp(bug, "kasan"))
		return kvl_canary_kasan();
	if (!strcmp(bug, "lockdep"))
		return kvl_canary_lockdep();
	if (!strcmp(bug, "sleep"))
		return kvl_canary_sleep();
	if (!strcmp(bug, "leak"))
		return kvl_canary_leak();
	pr_err("kvl_canary: bug=%s: want kasan, lockdep, sleep or leak\n", bug);
	return -EINVAL;
}

static void __exit kvl_canary_exit(void)
{
}

module_init(kvl_canary_init);
module_exit(kvl_canary_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kvmio_lat debug kernel lab: commit a bug on purpose");
