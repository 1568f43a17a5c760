// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs.c - /sys/kernel/debug/kvmio_lat/: hist, stats, reset, enable, pids.
 *
 * Every file is root-only.  A write that does not parse returns -EINVAL
 * (-E2BIG: a pids write of 1 KiB or more; -EFAULT: a buffer that cannot be
 * read) and changes nothing.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/rcupdate.h>

#include "kvmio_lat.h"

static struct dentry *kvl_dir;
/*
 * Serializes control writes, and readers with them: a snapshot never shows
 * a reset half done (count from before it, buckets from after).
 */
static DEFINE_MUTEX(kvl_ctl_lock);
/* hist_show()'s copy of the histogram it prints, under kvl_ctl_lock */
static struct kvl_hist kvl_print_scratch;

static __printf(2, 3) void kvl_seq_printf(void *ctx, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	seq_vprintf(ctx, fmt, args);
	va_end(args);
}

/*
 * hist: a seq_file whose records are the engine's pieces (the header, a
 * VM's line, each of its vCPUs, its disks): its buffer holds the largest
 * piece, not the whole text (megabytes at 16 VMs of 64 vCPUs).  Between
 * two reads' pieces the VMs may change, as they do while one is printed.
 */
static void *hist_at(loff_t *pos)
{
	u64 p = *pos;
	bool more = kvl_engine_hist_seek(&kvl_engine, &p);

	*pos = p;
	return more ? &kvl_engine : NULL;
}

static void *hist_start(struct seq_file *m, loff_t *pos)
{
	mutex_lock(&kvl_ctl_lock);	/* unlocked in hist_stop() */
	rcu_read_lock();	/* VMs are freed after a grace period */
	if (*pos == 0) {
		kvl_engine.print_now = kvl_clock_now();	/* exited VMs' ages */
		kvl_engine_flush(&kvl_engine);
	}
	return hist_at(pos);
}

static void *hist_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return hist_at(pos);
}

static void hist_stop(struct seq_file *m, void *v)
{
	rcu_read_unlock();
	mutex_unlock(&kvl_ctl_lock);
}

static int hist_show(struct seq_file *m, void *v)
{
	struct kvl_sink out = { kvl_seq_printf, m };

	kvl_engine_print_hist_at(&kvl_engine, &out, m->index, &kvl_print_scratch);
	return 0;
}

static const struct seq_operations hist_sops = {
	.start = hist_start,
	.next = hist_next,
	.stop = hist_stop,
	.show = hist_show,
};
DEFINE_SEQ_ATTRIBUTE(hist);

static int stats_show(struct seq_file *m, void *v)
{
	struct kvl_sink out = { kvl_seq_printf, m };

	mutex_lock(&kvl_ctl_lock);
	rcu_read_lock();
	kvl_engine_print_stats(&kvl_engine, &out, kvl_memory_bytes());
	rcu_read_unlock();
	mutex_unlock(&kvl_ctl_lock);
	seq_printf(m, "enabled: %d\n", READ_ONCE(kvl_enabled));
	seq_printf(m, "kvm_attached: %d\n", kvl_kvm_attached());
	seq_printf(m, "syscall_probes: %d\n", kvl_sys_attached());
	seq_printf(m, "syscall_hooks_missed: %lu\n", kvl_syshooks_missed());
	seq_printf(m, "syscall_hooks_filtered: %u\n", kvl_syshooks_filtered());
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

/*
 * Parse a single 0/1 written by the user: the whole write, so no
 * kstrtouint_from_user(), which parses only the first bytes of a long
 * write, and no NUL inside it.
 */
static int kvl_parse_bool(const char __user *ubuf, size_t count, bool *val)
{
	char buf[16];
	unsigned int v;

	if (!count || count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	if (strlen(buf) != count || kstrtouint(buf, 10, &v) || v > 1)
		return -EINVAL;
	*val = v;
	return 0;
}

static ssize_t reset_write(struct file *file, const char __user *ubuf,
			   size_t count, loff_t *ppos)
{
	bool v;
	int ret;

	ret = *ppos ? -EINVAL : kvl_parse_bool(ubuf, count, &v);
	if (ret)
		return ret;
	if (!v)
		return -EINVAL;
	mutex_lock(&kvl_ctl_lock);
	/* measure from now: a request rung before is not this period's */
	kvl_engine_resume(&kvl_engine, kvl_clock_now());
	rcu_read_lock();	/* VMs are freed after a grace period */
	kvl_engine_reset(&kvl_engine);
	rcu_read_unlock();
	mutex_unlock(&kvl_ctl_lock);
	return count;
}

static const struct file_operations reset_fops = {
	.owner = THIS_MODULE,
	.write = reset_write,
	.llseek = noop_llseek,
};

static ssize_t enable_read(struct file *file, char __user *ubuf, size_t count,
			   loff_t *ppos)
{
	char buf[3];

	snprintf(buf, sizeof(buf), "%d\n", READ_ONCE(kvl_enabled));
	return simple_read_from_buffer(ubuf, count, ppos, buf, 2);
}

static ssize_t enable_write(struct file *file, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	bool v;
	int ret;

	ret = *ppos ? -EINVAL : kvl_parse_bool(ubuf, count, &v);
	if (ret)
		return ret;
	/*
	 * Before the probes see events again: what began during the pause
	 * (a vCPU halted, a request rung) ends at a time nobody watched.
	 */
	if (v && !READ_ONCE(kvl_enabled))
		kvl_engine_resume(&kvl_engine, kvl_clock_now());
	WRITE_ONCE(kvl_enabled, v);
	return count;
}

static const struct file_operations enable_fops = {
	.owner = THIS_MODULE,
	.read = enable_read,
	.write = enable_write,
	.llseek = default_llseek,
};

#define KVL_PIDS_MAX_WRITE	1024

static ssize_t pids_read(struct file *file, char __user *ubuf, size_t count,
			 loff_t *ppos)
{
	char *buf;
	size_t len = 0;
	ssize_t ret;
	u32 i, n;

	buf = kmalloc(KVL_PIDS_MAX_WRITE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	mutex_lock(&kvl_ctl_lock);
	n = kvl_engine.nr_pids;
	for (i = 0; i < n; i++)
		len += scnprintf(buf + len, KVL_PIDS_MAX_WRITE - len, "%s%d",
				 i ? " " : "", kvl_engine.pids[i]);
	mutex_unlock(&kvl_ctl_lock);
	len += scnprintf(buf + len, KVL_PIDS_MAX_WRITE - len, "\n");
	ret = simple_read_from_buffer(ubuf, count, ppos, buf, len);
	kfree(buf);
	return ret;
}

/*
 * "pid pid ..." (spaces, tabs, commas or newlines between) replaces the
 * list; an empty write (or only white space) tracks every VM again.
 */
static ssize_t pids_write(struct file *file, const char __user *ubuf,
			  size_t count, loff_t *ppos)
{
	s32 pids[KVL_MAX_PIDS];
	char *buf, *p, *tok;
	u32 n = 0;
	int ret;

	if (*ppos)
		return -EINVAL;
	if (count >= KVL_PIDS_MAX_WRITE)
		return -E2BIG;
	buf = memdup_user_nul(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	p = buf;
	ret = strlen(buf) == count ? 0 : -EINVAL;	/* a NUL inside */
	while (!ret && (tok = strsep(&p, " \t\n,")) != NULL) {
		int pid;

		if (!*tok)
			continue;
		if (n == KVL_MAX_PIDS || kstrtoint(tok, 10, &pid) || pid <= 0) {
			ret = -EINVAL;
			break;
		}
		pids[n++] = pid;
	}
	kfree(buf);
	if (ret)
		return ret;
	mutex_lock(&kvl_ctl_lock);
	ret = kvl_engine_set_pids(&kvl_engine, pids, n);
	mutex_unlock(&kvl_ctl_lock);
	if (!ret)
		kvl_sys_check();	/* the VMs it dropped may have been the last */
	return ret ? -EINVAL : count;
}

static const struct file_operations pids_fops = {
	.owner = THIS_MODULE,
	.read = pids_read,
	.write = pids_write,
	.llseek = default_llseek,
};

void kvl_debugfs_init(void)
{
	kvl_dir = debugfs_create_dir(KVL_NAME, NULL);
	debugfs_create_file("hist", 0400, kvl_dir, NULL, &hist_fops);
	debugfs_create_file("stats", 0400, kvl_dir, NULL, &stats_fops);
	debugfs_create_file("reset", 0200, kvl_dir, NULL, &reset_fops);
	debugfs_create_file("enable", 0600, kvl_dir, NULL, &enable_fops);
	debugfs_create_file("pids", 0600, kvl_dir, NULL, &pids_fops);
}

void kvl_debugfs_exit(void)
{
	debugfs_remove_recursive(kvl_dir);
	kvl_dir = NULL;
}
